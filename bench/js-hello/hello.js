// The JavaScript contender of bench/run.py: a wasi:http hello world that
// componentize-js builds into a component of about 13 MB (SpiderMonkey
// inside), to measure cold starts of a large component.
addEventListener("fetch", (event) =>
  event.respondWith(
    new Response("Hello from JavaScript!\n", {
      headers: { "content-type": "text/plain; charset=utf-8" },
    }),
  ),
);
