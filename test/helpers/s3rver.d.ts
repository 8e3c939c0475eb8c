/** Types of the parts of s3rver (npm, no bundled types) that test/helpers/s3.ts uses. */
declare module 's3rver' {
  /** Options of an s3rver instance. */
  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    configureBuckets?: Array<{ name: string; configs?: Array<string | Buffer> }>;
  }
  /** An in-process S3 server (a Koa application). */
  export default class S3rver {
    constructor(options?: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }
}
