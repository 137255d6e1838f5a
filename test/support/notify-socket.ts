// A real AF_UNIX SOCK_DGRAM receiver for the sd_notify tests (Python, as Node has no Unix datagram sockets): it
// binds a path, asks for SO_PASSCRED and prints one JSON line per datagram with the sender's pid and the text.
import { spawn } from 'node:child_process'

export interface Datagram { pid: number | null, text: string }

const SCRIPT = `import socket, sys, struct, json, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"ready": True}), flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(4 * 16))
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', data[:12])[0]
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            for i in range(len(data) // 4):
                os.close(struct.unpack('i', data[4 * i:4 * i + 4])[0])
    print(json.dumps({"pid": pid, "text": msg.decode()}), flush=True)
`

/** Starts the receiver on `path`; `next()` resolves with the next datagram that is not a BARRIER=1. */
export interface NotifyReceiver { next: () => Promise<Datagram>, stop: () => Promise<void> }

export async function notifyReceiver (path: string): Promise<NotifyReceiver> {
  const child = spawn('python3', ['-c', SCRIPT, path], { stdio: ['ignore', 'pipe', 'inherit'] })
  const got: Datagram[] = []
  const waiters: Array<() => void> = []
  let buffered = ''
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        const m = JSON.parse(line) as Datagram & { ready?: boolean }
        if (m.ready === true) resolve()
        else if (m.text !== 'BARRIER=1') got.push(m)
      }
      for (const w of waiters.splice(0)) w()
    })
  })
  const next = async (): Promise<Datagram> => {
    while (got.length === 0) await new Promise<void>((resolve) => waiters.push(resolve))
    return got.shift() as Datagram
  }
  const stop = async (): Promise<void> => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  return { next, stop }
}
