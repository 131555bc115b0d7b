/**
 * Runs a connection's frames one after another, in arrival order. A task resolves once its
 * work is *submitted* (say, a message queued for the group commit), not once it is committed,
 * so ordering costs no round trip to the disk.
 */
export class OrderedWork {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly onError: (error: unknown) => void) {}

  run(task: () => Promise<void> | void): void {
    this.tail = this.tail.then(task).catch(this.onError);
  }

  /** Resolves when everything queued so far has run. */
  settled(): Promise<void> {
    return this.tail;
  }
}
