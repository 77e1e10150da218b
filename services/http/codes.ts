import { defineErrorCodes } from '../../src/errors/codes.js';

/** The error codes of the `http` kind: title, hint and exit code of each (docs/errors.md lists them). */
export const httpCodes = defineErrorCodes({
  HX_ERR_APP_LOAD: { title: 'app module cannot be loaded', hint: 'check the `app` path (relative to the manifest) and the module itself', exit: 1 },
  HX_ERR_APP_SHAPE: { title: 'app export has an unknown shape', hint: 'export a (req, res) listener, an object with fetch(request), or a factory (ctx) => one of them', exit: 1 },
  HX_ERR_HTTP_STATIC: { title: 'static folder cannot be served', hint: 'give an existing, readable folder, relative to the manifest', exit: 78 },
  HX_ERR_HTTP_EXPOSE_ERRORS: {
    title: 'error messages exposed beyond loopback',
    hint: 'a 500 response then shows error messages (paths, queries, secrets) to every client: set exposeErrors in a development overlay only, or listen on 127.0.0.1, ::1 or a unix socket (this is a warning: the service still starts)',
    exit: 78,
  },
});
