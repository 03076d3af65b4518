import fc from 'fast-check';
import { queryOf } from '../../src/negotiate/handler';

// The shortcut must read exactly what the WHATWG URL parser's searchParams reads, for any query.
describe('negotiate query parsing without new URL()', () => {
  const entries = (params: URLSearchParams) => [...params.entries()];

  it.each([
    'https://fn.example/api/negotiate',
    'https://fn.example/api/negotiate?',
    'https://fn.example/api/negotiate?hub=chat&groups=room.1,room.2',
    'https://fn.example/api/negotiate?groups=a%2Cb&groups=c&protocol=mqtt',
    'https://fn.example/api/negotiate?userId=a+b&x=%E2%9C%93',
    'https://fn.example/api/negotiate?hub=chat#groups=ignored',
    'https://fn.example/api/negotiate?=novalue&flag&a==b',
    'https://fn.example/api/negotiate??hub=chat',
  ])('%s', (url) => {
    expect(entries(queryOf(url))).toEqual(entries(new URL(url).searchParams));
  });

  it('agrees with URL.searchParams on arbitrary query strings', () => {
    fc.assert(
      fc.property(fc.string(), (query) => {
        const url = `https://fn.example/api/negotiate?${encodeURI(query).replace(/#/g, '%23')}`;
        expect(entries(queryOf(url))).toEqual(entries(new URL(url).searchParams));
      }),
    );
  });
});
