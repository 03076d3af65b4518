import { existsSync } from 'node:fs';
import { describeMachine, loadBetween, parseProcStat, readCpuTimes } from '../../bench/lib/machine';

// /proc/stat as proc(5) lays it out: the aggregate line first (user nice system idle iowait irq softirq steal
// guest guest_nice, in clock ticks), then one line per CPU. The counters are from this VM's own /proc/stat.
const BEFORE = [
  'cpu  2861543 4810 313442 2619407 9527 0 105179 275532 0 0',
  'cpu0 1373817 2513 151766 1374366 1919 0 52482 139265 0 0',
  'cpu1 1487726 2297 161676 1245040 7608 0 52696 136267 0 0',
  'intr 123456 0 0',
  'ctxt 987654',
].join('\n');

// 10 s later on 2 CPUs at 100 ticks/s = 2,000 ticks in all: 1,500 busy (1,200 user, 0 nice, 250 system,
// 0 irq, 50 softirq), 300 idle, 0 iowait, 200 stolen.
const AFTER = [
  'cpu  2862743 4810 313692 2619707 9527 0 105229 275732 0 0',
  'cpu0 1374417 2513 151891 1374516 1919 0 52507 139365 0 0',
  'cpu1 1488326 2297 161801 1245190 7608 0 52721 136367 0 0',
].join('\n');

describe('the machine-load lines under the bench table', () => {
  it('reads the aggregate cpu line of /proc/stat, not a per-CPU line', () => {
    expect(parseProcStat(BEFORE)).toEqual({
      user: 2861543,
      nice: 4810,
      system: 313442,
      idle: 2619407,
      iowait: 9527,
      irq: 0,
      softirq: 105179,
      steal: 275532,
    });
  });

  it('counts no steal on a kernel whose cpu line has no steal column', () => {
    expect(parseProcStat('cpu  100 0 50 800 10 0 5')?.steal).toBe(0);
  });

  it('gives nothing for text without a well-formed cpu line', () => {
    expect(parseProcStat('cpu0 1 2 3 4 5 6 7 8')).toBeUndefined();
    expect(parseProcStat('cpu  1 2 3')).toBeUndefined();
    expect(parseProcStat('cpu  1 2 x 4 5 6 7 8')).toBeUndefined();
    expect(parseProcStat('')).toBeUndefined();
  });

  it('works out busy and stolen shares of all CPU time between two readings', () => {
    const before = parseProcStat(BEFORE);
    const after = parseProcStat(AFTER);
    if (before === undefined || after === undefined) throw new Error('the samples did not parse');
    const load = loadBetween(before, after);
    expect(load?.busyPercent).toBeCloseTo(75, 10);
    expect(load?.stealPercent).toBeCloseTo(10, 10);
  });

  it('reports no load when no time passed between the readings', () => {
    const times = parseProcStat(BEFORE);
    if (times === undefined) throw new Error('the sample did not parse');
    expect(loadBetween(times, times)).toBeUndefined();
  });

  it('prints the load average and one line per benchmark, saying so where there are no counters', () => {
    const lines = describeMachine(1.5, [
      { benchmark: 'webhook', load: { busyPercent: 97.4, stealPercent: 3.25 } },
      { benchmark: 'negotiate', load: undefined },
    ]);
    expect(lines[0]).toMatch(/^machine: load average 1\.50 before the run/);
    expect(lines[1]).toBe(
      'machine during webhook: CPUs 97% busy, 3.3% of their time stolen by the hypervisor',
    );
    expect(lines[2]).toBe('machine during negotiate: no /proc/stat here, so no CPU or steal figures');
  });

  it('reads this machine’s own counters where it has /proc/stat, and gives nothing where it has none', () => {
    const times = readCpuTimes();
    if (!existsSync('/proc/stat')) {
      expect(times).toBeUndefined();
      return;
    }
    expect(times).toBeDefined();
    expect((times?.user ?? 0) + (times?.idle ?? 0)).toBeGreaterThan(0);
  });
});
