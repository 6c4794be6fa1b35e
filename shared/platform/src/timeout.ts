// One bound on how long a caller waits for a dependency (Redis, the database): a paused or hung
// server keeps its socket open and never answers, so its promises never settle by themselves.

/** p, or a rejection with `message` once `ms` have passed; a late rejection of p is not unhandled. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
