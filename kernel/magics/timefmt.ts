/** Time formats shared by %time, %%time and %timeit. */

/** IPython's %time output format (IPython/core/magics/execution.py, _format_time). */
export function formatTime(seconds: number): string {
  if (seconds >= 60) {
    // A minute or more: "2min 3s", "1h 1min", as IPython; parts stop below one second.
    const parts: [string, number][] = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
    const out: string[] = [];
    let left = seconds;
    for (const [suffix, length] of parts) {
      const value = Math.floor(left / length);
      if (value > 0) {
        left %= length;
        out.push(`${value}${suffix}`);
      }
      if (left < 1) break;
    }
    return out.join(" ");
  }
  const units: [number, string][] = [[1, "s"], [1e-3, "ms"], [1e-6, "µs"], [1e-9, "ns"]];
  for (const [scale, unit] of units) {
    if (seconds >= scale || unit === "ns") return `${Number((seconds / scale).toPrecision(3))} ${unit}`;
  }
  return `${seconds} s`;
}

export function formatCpuWall(cpu: NodeJS.CpuUsage, wall: number): string {
  const user = cpu.user / 1e6;
  const sys = cpu.system / 1e6;
  return `CPU times: user ${formatTime(user)}, sys: ${formatTime(sys)}, total: ${formatTime(user + sys)}\nWall time: ${formatTime(wall)}\n`;
}
