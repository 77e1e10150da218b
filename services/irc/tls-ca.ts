import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { firstLine, ircError, type IrcErrorSite } from './errors.js';

/** What reading `tls.ca` needs: the bot's name, the manifest folder, where `tls.ca` is written. */
export interface TlsCaSite extends IrcErrorSite {
  readonly baseDir: string;
}

/**
 * Reads the CA file `tls.ca` (relative to the manifest) a bot trusts for its server; a
 * missing or unreadable file, or one without a PEM certificate, is HX_ERR_IRC_TLS at `tls.ca`.
 */
export async function readTlsCa(site: TlsCaSite, ca: string): Promise<string> {
  const file = resolve(site.baseDir, ca);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw ircError(site, 'HX_ERR_IRC_TLS', ['tls', 'ca'], `cannot read the CA ${file}: ${(error as NodeJS.ErrnoException).code ?? firstLine(error)}`, error);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw ircError(site, 'HX_ERR_IRC_TLS', ['tls', 'ca'], `${file} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  return text;
}
