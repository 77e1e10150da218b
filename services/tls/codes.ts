import { defineErrorCodes } from '../../src/errors/codes.js';

/** The error codes of the `tls` kind: title, hint and exit code of each (docs/errors.md lists them). */
export const tlsCodes = defineErrorCodes({
  HX_ERR_TLS_FILE: { title: 'TLS file cannot be read', hint: 'check the path (relative to the manifest) and that the user running hendrix may read it', exit: 1 },
  HX_ERR_TLS_PEM: { title: 'TLS file is not a valid PEM certificate or key', hint: 'give PEM files (-----BEGIN CERTIFICATE----- / -----BEGIN PRIVATE KEY-----); convert DER or PKCS#12 with openssl', exit: 1 },
  HX_ERR_TLS_KEY_MISMATCH: { title: 'private key does not match the certificate', hint: 'pair each certificate with the key it was issued for (compare `openssl x509 -noout -pubkey` and `openssl pkey -pubout`)', exit: 1 },
  HX_ERR_TLS_CERT_EXPIRED: { title: 'certificate has expired or is not yet valid', hint: 'renew the certificate; clients will refuse it (this is a warning: the listener still starts)', exit: 1 },
  HX_ERR_TLS_RELOAD: { title: 'new certificate rejected: the old one stays in use', hint: 'fix the files named in the message; they are read again on their next change', exit: 1 },
  HX_ERR_TLS_SERVES: { title: '`serves` does not name an http service', hint: 'a tls listener serves the app of an `http` service: serves: <name of a kind: http service>', exit: 1 },
  HX_ERR_TLS_SELF_SIGNED: { title: 'development certificate cannot be created or stored', hint: 'make `stateDir` (default .hendrix/tls beside the manifest) writable', exit: 1 },
  HX_ERR_TLS_ACME: { title: 'ACME certificate could not be obtained or renewed', hint: 'check `acme.directory`, that the hosts resolve to this machine and that port 80 (the http-01 challenge) reaches the redirect listener or the served http service', exit: 1 },
});
