/** The one message the parent sends a server child over IPC; the child answers with process.cpuUsage(). */
export const CPU_USAGE_QUERY = 'cpu-usage';
