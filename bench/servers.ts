// The other servers of the benchmark, each a real process on a free loopback port with its log in the run's
// folder: nginx (one worker, `proxy_pass` to the simulator with upstream keep-alive, client certificate required,
// an access-log line per request to a file) and the bare Node https server (bare-https.js).
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort, REPO_ROOT, startChild, waitForLine, type Child } from './procs.js'

export interface TlsFiles { chain: string, key: string, ca: string }

export function nginxConfig (dir: string, port: number, backendPort: number, f: TlsFiles, fdLimit: number): string {
  return `worker_processes 1;
daemon off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
worker_rlimit_nofile ${fdLimit};
# worker_connections counts idle device connections (one descriptor each) with the rest: at the limit nginx keeps
# refusing and the idle client keeps reconnecting, so it is as large as the descriptors allow
events { worker_connections ${fdLimit - 100}; }
http {
  access_log ${dir}/nginx-access.log combined;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  # the idle-connection scenario holds connections that never send a request (the other targets get the same)
  client_header_timeout 3600s;
  upstream mender {
    server 127.0.0.1:${backendPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${f.chain};
    ssl_certificate_key ${f.key};
    ssl_client_certificate ${f.ca};
    ssl_verify_client on;
    ssl_verify_depth 4;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://mender;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`
}

export interface Started { child: Child, port: number }

/** nginx in the foreground (master + one worker); resolves once it accepts TLS connections. */
export async function startNginx (dir: string, backendPort: number, f: TlsFiles, fdLimit: number): Promise<Started> {
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  await writeFile(conf, nginxConfig(dir, port, backendPort, f, fdLimit))
  const child = startChild('nginx', 'nginx', ['-p', dir, '-e', join(dir, 'nginx-error.log'), '-c', conf], {}, join(dir, 'nginx.log'))
  await waitForPort(child, port)
  return { child, port }
}

/** The bare Node https server (plain JavaScript, no loader). */
export async function startBare (dir: string, f: TlsFiles): Promise<Started> {
  const env = { BARE_CERT: f.chain, BARE_KEY: f.key, BARE_CA: f.ca, BARE_LOG: join(dir, 'bare-access.log') }
  const child = startChild('bare Node https', process.execPath, [join(REPO_ROOT, 'bench', 'bare-https.js')], env, join(dir, 'bare.log'))
  const m = await waitForLine(child, /listening (\d+)/)
  return { child, port: Number(m[1]) }
}

async function waitForPort (child: Child, port: number): Promise<void> {
  const { connect } = await import('node:net')
  const end = Date.now() + 10_000
  while (Date.now() < end) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited at start (see ${child.logPath})`)
    const open = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' })
      s.once('connect', () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${child.name} did not listen on ${port} within 10 s`)
}
