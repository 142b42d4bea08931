// js-libp2p 3 and its dependencies (it-queue, @libp2p/utils, yamux, ping)
// call Promise.withResolvers, which Node has from version 22 on; this
// project's machines and CI run Node 20. The standard method, defined only
// where it is missing. Imported first by interop.mjs.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve, reject
      const promise = new this((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}
