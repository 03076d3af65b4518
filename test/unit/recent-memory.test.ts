import { RecentMemory } from '../../src/protocol/recent-memory';

describe('RecentMemory', () => {
  it('never holds more than its capacity, however many entries pass through', () => {
    const memory = new RecentMemory<number, number>(100);
    for (let key = 0; key < 10_000; key++) {
      memory.set(key, key);
      expect(memory.size).toBeLessThanOrEqual(100);
    }
  });

  it('keeps at least the most recent half of its capacity', () => {
    const memory = new RecentMemory<number, string>(100);
    for (let key = 0; key < 1_000; key++) memory.set(key, `value ${key}`);
    for (let key = 950; key < 1_000; key++) expect(memory.get(key)).toBe(`value ${key}`);
    expect(memory.get(0)).toBeUndefined();
  });

  it('keeps an entry that is still being read while newer ones keep arriving', () => {
    const memory = new RecentMemory<string, number>(10);
    memory.set('busy', 1);
    for (let key = 0; key < 1_000; key++) {
      memory.set(`passing ${key}`, key);
      expect(memory.get('busy')).toBe(1);
    }
  });

  it('forgets a deleted entry in whichever generation it sits', () => {
    const memory = new RecentMemory<string, number>(4);
    memory.set('older', 1);
    memory.set('next', 2);
    memory.set('young', 3); // 'older' and 'next' are now the old generation
    memory.delete('older');
    memory.delete('young');
    expect(memory.get('older')).toBeUndefined();
    expect(memory.get('young')).toBeUndefined();
    expect(memory.get('next')).toBe(2);
  });

  it('answers the latest value of a key set twice, and counts it once', () => {
    const memory = new RecentMemory<string, number>(4);
    memory.set('key', 1);
    memory.set('other', 2);
    memory.set('third', 3);
    memory.set('key', 4); // 'key' moves from the old generation to the young one
    expect(memory.get('key')).toBe(4);
    expect(memory.size).toBe(3);
  });

  it.each([0, 1, 2.5, Number.NaN])('refuses a capacity of %p', (capacity) => {
    expect(() => new RecentMemory(capacity)).toThrow(RangeError);
  });
});
