// The man page and the bash completion, rendered from the command tree that parses the command
// line, so that neither can drift from it. The build runs `enclave __generate man|bash-completion`.
#include <memory>
#include <sstream>

#include "cli/context.h"
#include "common/version.h"

namespace enclave::cli {
namespace {

bool Visible(const CLI::App* sub) { return !sub->get_group().empty(); }

std::vector<const CLI::App*> Subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* sub) { return Visible(sub); });
}

// roff treats a backslash as an escape and a leading dot or quote as a request.
std::string Roff(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

// "--label TEXT", "-o,--out FILE", "--json" for flags; positionals as their name.
std::string OptionSynopsis(const CLI::Option* opt) {
  if (opt->get_positional()) return "\\fI" + Roff(opt->get_name(true)) + "\\fR";
  std::string names;
  for (const auto& s : opt->get_snames())
    names += (names.empty() ? "" : ", ") + ("\\fB\\-" + Roff(s) + "\\fR");
  for (const auto& l : opt->get_lnames())
    names += (names.empty() ? "" : ", ") + ("\\fB\\-\\-" + Roff(l) + "\\fR");
  // As CLI11's own help: flags have no type name.
  if (opt->get_type_size() != 0 && !opt->get_type_name().empty()) {
    names += " \\fI" + Roff(opt->get_type_name()) + "\\fR";
  }
  return names;
}

std::vector<const CLI::Option*> Options(const CLI::App& app) {
  return app.get_options([](const CLI::Option* opt) { return !opt->get_group().empty(); });
}

void ManOptions(const CLI::App& app, bool with_help, std::ostringstream& out) {
  for (const CLI::Option* opt : Options(app)) {
    if (!with_help && opt == app.get_help_ptr()) continue;
    out << ".TP\n"
        << OptionSynopsis(opt) << (opt->get_required() ? " (required)" : "") << "\n"
        << Roff(opt->get_description()) << "\n";
  }
}

void ManCommands(const CLI::App& app, const std::string& path, std::ostringstream& out) {
  for (const CLI::App* sub : Subcommands(app)) {
    const std::string name = path + " " + sub->get_name();
    const auto children = Subcommands(*sub);
    std::string usage = "\\fB" + Roff(name) + "\\fR";
    if (!children.empty()) usage += " \\fICOMMAND\\fR";
    for (const CLI::Option* opt : Options(*sub)) {
      if (opt == sub->get_help_ptr()) continue;
      usage += opt->get_required() || opt->get_positional() ? " " + OptionSynopsis(opt)
                                                            : " [" + OptionSynopsis(opt) + "]";
    }
    out << ".SS \"" << Roff(name) << "\"\n" << usage << "\n.PP\n" << Roff(sub->get_description()) << "\n";
    if (children.empty()) {
      ManOptions(*sub, false, out);
    } else {
      ManCommands(*sub, name, out);
    }
  }
}

std::string ManPage(const CLI::App& app) {
  std::ostringstream out;
  const std::string& name = app.get_name();
  std::string summary = app.get_description();
  if (const auto colon = summary.find(": "); colon != std::string::npos) summary = summary.substr(colon + 2);
  out << ".\\\" Generated from the command tree by `" << name << " __generate man`; do not edit.\n"
      << ".TH "
      << "ENCLAVE 1 \"\" \"" << name << " " << Version() << "\" \"User Commands\"\n"
      << ".SH NAME\n"
      << name << " \\- " << Roff(summary) << "\n"
      << ".SH SYNOPSIS\n.B " << name << "\n[\\fB\\-\\-json\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n"
      << ".br\n.B " << name << "\n\\fB\\-\\-version\\fR | \\fB\\-\\-help\\fR\n"
      << ".SH DESCRIPTION\n"
      << "Creates and uses P\\-256 keys that never leave the enclave daemon, \\fBenclaved\\fR(8), which "
         "the first command starts when none serves the enclave home. Keys live in a software enclave "
         "or a TPM 2.0 and are guarded by access controls (biometry, passcode).\n"
      << ".PP\nWith \\fB\\-\\-json\\fR every command prints one JSON document on standard output, errors "
         "included; without it, a sentence or a short table for people.\n"
      << ".SH OPTIONS\n";
  ManOptions(app, true, out);
  out << ".SH COMMANDS\n";
  ManCommands(app, name, out);
  out << ".SH ENVIRONMENT\n"
      << ".TP\n.B ENCLAVE_HOME\nThe enclave home (default \\fI$XDG_DATA_HOME/enclave\\fR, else "
         "\\fI~/.local/share/enclave\\fR).\n"
      << ".TP\n.B ENCLAVED\nThe daemon to start when none serves the home.\n"
      << ".SH FILES\n"
      << ".TP\n.I $ENCLAVE_HOME/enclaved.sock\nThe daemon's socket (0600).\n"
      << ".SH EXIT STATUS\n0 on success, 1 on an error, 2 on a usage error.\n"
      << ".SH SEE ALSO\n\\fBenclaved\\fR(8)\n";
  return out.str();
}

// Words a completion offers after a command path: its subcommands, and its options.
void Collect(const CLI::App& app, const std::string& path, std::ostringstream& subs,
             std::ostringstream& opts) {
  std::string sub_words, opt_words;
  for (const CLI::App* sub : Subcommands(app)) sub_words += (sub_words.empty() ? "" : " ") + sub->get_name();
  for (const CLI::Option* opt : Options(app)) {
    for (const auto& s : opt->get_snames()) opt_words += (opt_words.empty() ? "-" : " -") + s;
    for (const auto& l : opt->get_lnames()) opt_words += (opt_words.empty() ? "--" : " --") + l;
  }
  subs << "    [\"" << path << "\"]=\"" << sub_words << "\"\n";
  opts << "    [\"" << path << "\"]=\"" << opt_words << "\"\n";
  for (const CLI::App* sub : Subcommands(app)) Collect(*sub, path + " " + sub->get_name(), subs, opts);
}

std::string BashCompletion(const CLI::App& app) {
  std::ostringstream subs, opts;
  const std::string& name = app.get_name();
  Collect(app, name, subs, opts);
  std::ostringstream out;
  out << "# bash completion for " << name << "; generated from the command tree by `" << name
      << " __generate bash-completion`.\n"
      << "_" << name << "() {\n"
      << "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=" << name << " i w\n"
      << "  local -A subs=(\n"
      << subs.str() << "  )\n"
      << "  local -A opts=(\n"
      << opts.str() << "  )\n"
      << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      << "    w=\"${COMP_WORDS[i]}\"\n"
      << "    if [[ \" ${subs[$path]} \" == *\" $w \"* ]]; then path=\"$path $w\"; fi\n"
      << "  done\n"
      << "  if [[ \"$cur\" == -* ]]; then\n"
      << "    mapfile -t COMPREPLY < <(compgen -W \"${opts[$path]} ${opts[" << name << "]}\" -- \"$cur\")\n"
      << "  elif [[ -n \"${subs[$path]}\" ]]; then\n"
      << "    mapfile -t COMPREPLY < <(compgen -W \"${subs[$path]}\" -- \"$cur\")\n"
      << "  fi\n"
      << "}\n"
      << "complete -o default -F _" << name << " " << name << "\n";
  return out.str();
}

}  // namespace

void AddGenerateCommand(CLI::App& app, Context& ctx) {
  auto what = std::make_shared<std::string>();
  // In the group "" the command is hidden from help, the man page and the completion.
  CLI::App* gen = app.add_subcommand("__generate", "print the man page or the bash completion")->group("");
  gen->add_option("WHAT", *what, "man | bash-completion")
      ->required()
      ->check(CLI::IsMember(std::vector<std::string>{"man", "bash-completion"}));
  gen->callback([&app, &ctx, what] {
    *ctx.env.out << (*what == "man" ? ManPage(app) : BashCompletion(app));
    ctx.status = 0;
  });
}

}  // namespace enclave::cli
