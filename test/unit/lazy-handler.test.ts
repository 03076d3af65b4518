import type { HttpHandler } from '@azure/functions';
import { lazyHandler } from '../../src/functions/runtime/lazy';

// The handlers here never look at their arguments.
const [request, context] = [{}, {}] as unknown as Parameters<HttpHandler>;

describe('a registration whose handler module loads on first use', () => {
  it('loads the module once, on the first invocation, and serves every invocation with it', async () => {
    const load = jest.fn(async () =>
      Promise.resolve<HttpHandler>(async () => Promise.resolve({ status: 204 })),
    );
    const handler = lazyHandler(load);
    expect(load).not.toHaveBeenCalled();
    const answers = await Promise.all([handler(request, context), handler(request, context)]);
    await handler(request, context);
    expect(answers).toEqual([{ status: 204 }, { status: 204 }]);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('passes the failure of a load to that request and tries again on the next', async () => {
    const load = jest
      .fn<Promise<HttpHandler>, []>()
      .mockRejectedValueOnce(new Error('chunk missing'))
      .mockResolvedValueOnce(async () => Promise.resolve({ status: 200 }));
    const handler = lazyHandler(load);
    await expect(handler(request, context)).rejects.toThrow('chunk missing');
    await expect(handler(request, context)).resolves.toEqual({ status: 200 });
    expect(load).toHaveBeenCalledTimes(2);
  });
});
