#ifndef SESSIONCLUSTER_CCRYPTO_H
#define SESSIONCLUSTER_CCRYPTO_H
// The system's libcrypto (OpenSSL 3, Debian package libssl-dev): AES-256-GCM, HKDF and HMAC (EVP_MAC). No cipher is written here.
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#endif
