import nock from 'nock';
import { afterEach, beforeEach } from 'vitest';

/** No real outbound HTTP in this file's tests, except loopback (the scripted model server). */
export function useNockWithLoopback(): void {
  beforeEach(() => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });
}
