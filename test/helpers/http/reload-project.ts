import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Socket } from 'node:net';
import { nodeRequest } from './test-client.js';

/** A temporary project folder whose files a test rewrites between reloads. */
export interface Project {
  /** The folder (the service's baseDir). */
  readonly dir: string;
  /** Writes (or rewrites) a file, relative to the folder. */
  write(file: string, text: string): Promise<void>;
  /** Removes the folder. */
  remove(): Promise<void>;
}

const projects = new Set<Project>();

/** Makes a project folder with the given files (removed by removeProjects()). */
export async function createProject(files: Record<string, string>): Promise<Project> {
  const dir = await mkdtemp(join(tmpdir(), 'hendrix-reload-'));
  const project: Project = {
    dir,
    async write(file, text) {
      await mkdir(dirname(join(dir, file)), { recursive: true });
      await writeFile(join(dir, file), text);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  for (const [file, text] of Object.entries(files)) await project.write(file, text);
  projects.add(project);
  return project;
}

/** Removes every project createProject() made; for afterEach/afterAll. */
export async function removeProjects(): Promise<void> {
  const all = [...projects];
  projects.clear();
  await Promise.all(all.map((p) => p.remove()));
}

/** A response seen by a KeepAliveClient. */
export interface KeptResponse {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

/**
 * An HTTP/1.1 client that keeps one connection open (a keep-alive agent with one socket) and
 * records every connection it had to open and every one that closed under it.
 */
export class KeepAliveClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  readonly #base: string;
  /** Every connection the client used, in order. */
  readonly sockets: Socket[] = [];
  /** How many of them closed (by either side). */
  closed = 0;

  constructor(base: string) {
    this.#base = base;
  }

  /** A GET over the kept connection. */
  async get(path: string, headers: Record<string, string> = {}): Promise<KeptResponse> {
    const res = await nodeRequest(`${this.#base}${path}`, { agent: this.#agent, headers });
    if (!this.sockets.includes(res.socket)) {
      this.sockets.push(res.socket);
      res.socket.once('close', () => this.closed++);
    }
    return { status: res.status, body: res.body, headers: res.headers };
  }

  /** Closes the client's connection. */
  close(): void {
    this.#agent.destroy();
  }
}
