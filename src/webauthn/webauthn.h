// Everything of src/webauthn in one include.
#pragma once

#include "webauthn/attestation.h"
#include "webauthn/authenticator_data.h"
#include "webauthn/base64url.h"
#include "webauthn/client_data.h"
#include "webauthn/cose.h"
#include "webauthn/device_proof.h"
#include "webauthn/tpm_certify.h"
#include "webauthn/reason.h"
