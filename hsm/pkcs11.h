// The PKCS#11 v2.40 C API, from p11-kit's header (CRYPTOKI_COMPAT names: CK_RV, CKM_AES_GCM, ...).
// The one place that names the header, so a vendor's pkcs11.h could replace it.
#pragma once

#include <p11-kit/pkcs11.h>
