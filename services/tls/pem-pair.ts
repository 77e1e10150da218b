/** A certificate chain and its private key as PEM text, with the files they were read from. */
export interface PemPair {
  /** The certificate chain, PEM: the leaf first. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
  /** The absolute path of the certificate file. */
  readonly certFile: string;
  /** The absolute path of the key file. */
  readonly keyFile: string;
}
