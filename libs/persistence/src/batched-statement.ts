import type { DataSource } from 'typeorm';
import { PreparedStatement } from './prepared-statement.js';

/** Most inputs one statement carries; more wait for the next statement, sent right after. */
const MAX_BATCH = 200;

interface Waiting<I, R> {
  readonly input: I;
  readonly resolve: (rows: R[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * One statement for many callers: the calls made during one turn of the
 * event loop go to PostgreSQL together, as one statement over a JSON array
 * of their inputs (`$1`, each element with its index `i`, for
 * `jsonb_to_recordset`), and each caller gets the rows that carry its index.
 * Under load, one round trip, one plan execution and one commit serve many
 * callers; alone, a call waits for nothing but the end of the current turn.
 *
 * The calls of one statement share its transaction: if it fails, every call
 * in it fails. Inputs are sent in the order `order` gives (for example the
 * order of the rows they lock, so that two statements never wait on each
 * other's locks).
 */
export class BatchedStatement<I extends object, R extends { i: number }> {
  private readonly statement: PreparedStatement<R>;
  private readonly waiting = new Map<DataSource, Array<Waiting<I, Omit<R, 'i'>>>>();
  private scheduled = false;

  constructor(
    name: string,
    text: string,
    private readonly order?: (a: I, b: I) => number,
  ) {
    this.statement = new PreparedStatement<R>(name, text);
  }

  get text(): string {
    return this.statement.text;
  }

  /** The rows of this input's part of the statement. */
  rows(dataSource: DataSource, input: I): Promise<Array<Omit<R, 'i'>>> {
    return new Promise((resolve, reject) => {
      let queue = this.waiting.get(dataSource);
      if (queue === undefined) this.waiting.set(dataSource, (queue = []));
      queue.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.waiting];
    this.waiting.clear();
    for (const [dataSource, calls] of batches) {
      if (this.order) calls.sort((a, b) => this.order!(a.input, b.input));
      for (let start = 0; start < calls.length; start += MAX_BATCH) {
        void this.send(dataSource, calls.slice(start, start + MAX_BATCH));
      }
    }
  }

  private async send(
    dataSource: DataSource,
    calls: Array<Waiting<I, Omit<R, 'i'>>>,
  ): Promise<void> {
    let rows: R[];
    try {
      rows = await this.statement.rows(dataSource, [
        JSON.stringify(calls.map((call, i) => ({ ...call.input, i }))),
      ]);
    } catch (error) {
      for (const call of calls) call.reject(error);
      return;
    }
    const byCall: Array<Array<Omit<R, 'i'>>> = calls.map(() => []);
    for (const { i, ...row } of rows) byCall[i]?.push(row);
    calls.forEach((call, index) => call.resolve(byCall[index]));
  }
}
