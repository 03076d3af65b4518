import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

/**
 * How busy the whole machine was while a benchmark ran. The ratios are taken within one run so that a busy
 * machine slows baseline and contender alike, but it does not slow them equally (the negotiate sample, one
 * long stretch of OpenSSL work per token, suffers more than ours), so a reader needs to know how loaded the
 * run was to weigh a verdict near its target.
 */

/** The machine's aggregate CPU time counters (the `cpu` line of /proc/stat, in clock ticks; proc(5)). */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  /** Time the hypervisor ran something else while this VM wanted the CPU. */
  steal: number;
}

const FIELDS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** The aggregate `cpu` line of a /proc/stat text; undefined when there is none or it is malformed. */
export function parseProcStat(text: string): CpuTimes | undefined {
  const line = text.split('\n').find((candidate) => /^cpu\s/.test(candidate));
  if (line === undefined) return undefined;
  const numbers = line.trim().split(/\s+/).slice(1).map(Number);
  // Kernels before 2.6.11 have no steal column; such a machine reports none rather than a guess.
  if (numbers.length < 7 || numbers.some((value) => !Number.isFinite(value) || value < 0)) return undefined;
  const times = { steal: 0 } as CpuTimes;
  FIELDS.forEach((field, index) => {
    const value = numbers[index];
    if (value !== undefined) times[field] = value;
  });
  return times;
}

export interface MachineLoad {
  /** Share of all CPUs' time spent running anything (ours, the baseline, the load generator, neighbours). */
  busyPercent: number;
  /** Share of all CPUs' time taken away by the hypervisor. */
  stealPercent: number;
}

/** The load between two readings; undefined when no time passed between them. */
export function loadBetween(before: CpuTimes, after: CpuTimes): MachineLoad | undefined {
  const delta = (field: keyof CpuTimes): number => Math.max(0, after[field] - before[field]);
  const busy = delta('user') + delta('nice') + delta('system') + delta('irq') + delta('softirq');
  const total = busy + delta('idle') + delta('iowait') + delta('steal');
  if (total === 0) return undefined;
  return { busyPercent: (100 * busy) / total, stealPercent: (100 * delta('steal')) / total };
}

/** The machine's counters now, or undefined where /proc/stat does not exist (macOS, Windows). */
export function readCpuTimes(): CpuTimes | undefined {
  try {
    return parseProcStat(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** Measures the machine's load from now until the returned function is called. */
export function openMachineWindow(): () => MachineLoad | undefined {
  const before = readCpuTimes();
  return () => {
    const after = readCpuTimes();
    return before === undefined || after === undefined ? undefined : loadBetween(before, after);
  };
}

/** The one-minute load average (0 where the platform has none), read once before anything runs. */
export function loadAverageNow(): number {
  return loadavg()[0] ?? 0;
}

/** The lines under the bench table that say how loaded the machine was. */
export function describeMachine(
  loadAverageBefore: number,
  windows: readonly { benchmark: string; load: MachineLoad | undefined }[],
): string[] {
  const lines = [
    `machine: load average ${loadAverageBefore.toFixed(2)} before the run (1 minute; ${availableParallelism()} CPUs)`,
  ];
  for (const { benchmark, load } of windows) {
    lines.push(
      load === undefined
        ? `machine during ${benchmark}: no /proc/stat here, so no CPU or steal figures`
        : `machine during ${benchmark}: CPUs ${load.busyPercent.toFixed(0)}% busy, ` +
            `${load.stealPercent.toFixed(1)}% of their time stolen by the hypervisor`,
    );
  }
  return lines;
}
