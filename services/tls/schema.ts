import { z } from 'zod';
import { bool, duration, listen } from '../../src/kinds/fields.js';

const path = (description: string) => z.string().min(1).describe(description);

/** A host name a certificate is for: `example.com`, `*.example.com`, `localhost` or an IP. */
const host = z
  .string()
  .min(1)
  .regex(/^(?:\*\.)?[A-Za-z0-9_.:-]+$/, 'expected a host name (example.com, *.example.com) or an IP address')
  .describe('A host name (example.com), a wildcard (*.example.com) or an IP address.');

/** One certificate of an SNI list. */
const certEntry = z.strictObject({
  cert: path('The certificate chain (PEM), relative to the manifest: the leaf first, then intermediates.'),
  key: path('The private key (PEM) of the certificate, relative to the manifest.'),
  hosts: z
    .array(host)
    .optional()
    .describe(
      'The server names (SNI) this certificate answers. Default: the names in the certificate itself. An entry marked default (or else the first) answers clients that send no or an unknown name.',
    ),
  default: bool('Whether this certificate answers clients that send no server name or one no entry lists. Default: the first entry.').optional(),
});

/** `clientAuth`: mutual TLS. */
const clientAuth = z
  .strictObject({
    ca: path('The CA certificates (PEM) that client certificates must chain to, relative to the manifest. Every SNI certificate uses it.'),
    required: bool(
      'Whether a client without a valid certificate is refused during the handshake. false: such clients are let in and the app reads req.socket.authorized / getPeerCertificate().',
    ).default(true),
  })
  .describe('Mutual TLS: ask clients for a certificate signed by `ca`.');

const hstsObject = z.strictObject({
  maxAge: duration('How long browsers remember to use https only (the max-age of Strict-Transport-Security).').default(31_536_000_000),
  includeSubDomains: bool('Whether the rule covers every subdomain too.').default(false),
  preload: bool('Whether to add `preload` (only after submitting the domain to the browsers\' preload list).').default(false),
});

/** `hsts`: the Strict-Transport-Security header on every response of the listener. */
const hsts = z
  .union([z.literal(false), z.literal(true).transform(() => hstsObject.parse({})), hstsObject])
  .default(false)
  .describe('Adds Strict-Transport-Security to every response: true (max-age one year) or { maxAge, includeSubDomains, preload }. false: no header.');

const redirect = z
  .strictObject({
    listen: listen('Where the plain-http redirect listener listens: usually 80 (which needs privileges: root or CAP_NET_BIND_SERVICE).'),
    status: z.union([z.literal(301), z.literal(302), z.literal(307), z.literal(308)]).default(308).describe('The redirect status: 308 (permanent, keeps the method) by default.'),
  })
  .describe('A plain-http listener that answers every request with a redirect to the https URL (and ACME http-01 challenges).');

const selfSigned = z
  .union([
    z.literal(false),
    z.literal(true).transform(() => ({ hosts: [] as string[] })),
    z.strictObject({
      hosts: z.array(host).default([]).describe('Names the certificate is for, besides localhost, 127.0.0.1 and ::1.'),
    }),
  ])
  .default(false)
  .describe(
    'A development certificate (SHA-256, for localhost, 127.0.0.1, ::1 and `hosts`) created in `stateDir` and reused on the next start. Browsers warn about it: never for production.',
  );

const acme = z
  .strictObject({
    directory: z.string().regex(/^https?:\/\/[^\s/]+/, 'expected the http(s) URL of an ACME directory').describe('The ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory (Let\'s Encrypt) or a test CA.'),
    email: z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'expected an email address').optional().describe('The contact address of the ACME account (expiry notices).'),
    hosts: z.array(host).min(1).describe('The names to obtain a certificate for; each must resolve to this machine, port 80 reaching the redirect listener or the served http service.'),
    directoryCa: path('A CA (PEM) to trust for the ACME directory itself, for a private or test CA; relative to the manifest.').optional(),
    renewBefore: duration('How long before expiry the certificate is renewed.').default(30 * 86_400_000),
    checkInterval: duration('How often the expiry is checked while running.').default(12 * 3_600_000),
  })
  .describe('Obtain and renew certificates from an ACME CA (Let\'s Encrypt) with the http-01 challenge; stored in `stateDir` and reused.');

/** The config of a `tls` service: a TLS listener serving an http service's app. */
export const tlsSchema = z
  .strictObject({
    listen: listen('Where to listen: a port (all interfaces), "host:port", or a unix socket path. 443 needs privileges. Port 0 picks a free port.').prefault(443),
    serves: z.string().min(1).describe('The http service whose app (and upgrade handlers: the pub/sub hub) this listener serves.'),
    cert: path('The certificate chain (PEM), relative to the manifest: the leaf first, then intermediates. Watched: a change is loaded without dropping connections.').optional(),
    key: path('The private key (PEM) of `cert`, relative to the manifest. Watched like `cert`.').optional(),
    certs: z
      .array(certEntry)
      .min(1)
      .optional()
      .describe('Several certificates picked by the server name the client asks for (SNI); the default entry answers the others. Watched like `cert`.'),
    selfSigned,
    acme: acme.optional(),
    stateDir: path('Where created and obtained certificates are kept, relative to the manifest.').default('.hendrix/tls'),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('The oldest TLS version accepted. TLS 1.0 and 1.1 are never accepted.'),
    ciphers: z
      .string()
      .min(1)
      .superRefine((list, ctx) => {
        const weak = weakCipher(list);
        if (weak !== undefined) ctx.addIssue({ code: 'custom', input: list, message: `\`${weak}\` is a weak cipher setting: leave it out (the default list is forward-secret AEAD only)` });
      })
      .optional()
      .describe("OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are fixed). Default: ECDHE key exchange with AES-GCM or ChaCha20 only (forward secrecy, no CBC)."),
    http2: bool('Whether to serve HTTP/2 as well as HTTP/1.1 on the same port (chosen by ALPN).').default(false),
    clientAuth: clientAuth.optional(),
    hsts,
    redirect: redirect.optional(),
    handshakeTimeout: duration('How long a client may take to finish the TLS handshake.').default(10_000),
    watch: bool('Whether certificate and key files are watched and reloaded when they change.').default(true),
  })
  .superRefine((config, ctx) => {
    const sources = [
      config.cert !== undefined || config.key !== undefined ? 'cert/key' : undefined,
      config.certs !== undefined ? 'certs' : undefined,
      config.selfSigned !== false ? 'selfSigned' : undefined,
      config.acme !== undefined ? 'acme' : undefined,
    ].filter((s) => s !== undefined);
    if (sources.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['cert'], message: 'a tls service needs certificates: cert + key, certs: [...], selfSigned: true or acme: {...}' });
    } else if (sources.length > 1) {
      ctx.addIssue({ code: 'custom', path: [sourceKey(sources[1] as string)], message: `give one source of certificates, not ${sources.join(' and ')}` });
    }
    if (config.cert !== undefined && config.key === undefined) ctx.addIssue({ code: 'custom', path: ['key'], message: '`cert` needs its `key`' });
    if (config.key !== undefined && config.cert === undefined) ctx.addIssue({ code: 'custom', path: ['cert'], message: '`key` needs its `cert`' });
    const defaults = (config.certs ?? []).flatMap((entry, index) => (entry.default === true ? [index] : []));
    for (const index of defaults.slice(1)) ctx.addIssue({ code: 'custom', path: ['certs', index, 'default'], message: 'only one certificate can be the default' });
  });

/** The first entry of an OpenSSL cipher list that turns on something broken, if any. */
export function weakCipher(list: string): string | undefined {
  for (const entry of list.split(/[:,\s]+/)) {
    if (entry === '' || entry.startsWith('!') || entry.startsWith('-')) continue; // exclusions are fine
    if (/(?:^|[-+])(?:[ae]?NULL|EXPORT|EXP|RC4|DES|3DES|MD5)(?:$|-)|@SECLEVEL=0/i.test(entry)) return entry;
  }
  return undefined;
}

function sourceKey(source: string): string {
  return source === 'cert/key' ? 'cert' : source;
}

/** The validated config of a `tls` service. */
export type TlsConfig = z.output<typeof tlsSchema>;

/** The validated `acme` section. */
export type AcmeConfig = z.output<typeof acme>;
