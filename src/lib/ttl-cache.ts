// A bounded map whose entries expire: least recently written entries are evicted first.
export class TtlCache<V> {
  private readonly map = new Map<string, { value: V, expires: number }>()

  constructor (
    private readonly max: number, private readonly ttlMs: number, private readonly now: () => number = Date.now
  ) {}

  get (key: string): V | undefined {
    const e = this.map.get(key)
    if (e === undefined) return undefined
    if (this.now() >= e.expires) {
      this.map.delete(key)
      return undefined
    }
    return e.value
  }

  set (key: string, value: V): void {
    this.map.delete(key)
    this.map.set(key, { value, expires: this.now() + this.ttlMs })
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value
      if (oldest === undefined) break
      this.map.delete(oldest)
    }
  }

  delete (key: string): void {
    this.map.delete(key)
  }

  get size (): number { return this.map.size }
}
