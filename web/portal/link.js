// The invitation and password-reset pages: the token arrives in the URL's fragment (never
// sent to a server, never in a Referer). Move it into the form, then out of the address bar
// and the history, so that it is not left on screen or in a bookmark. After a refused
// attempt the server renders the form again with the token already in it.

const form = /** @type {HTMLFormElement | null} */ (document.querySelector('form.link-form'));
const field = /** @type {HTMLInputElement | null} */ (
  form?.querySelector('input[name="token"]') ?? null
);
const token = window.location.hash.replace(/^#/, '');

if (form && field) {
  if (token) {
    field.value = token;
    history.replaceState(null, '', window.location.pathname);
  }
  const missing = /** @type {HTMLElement | null} */ (form.querySelector('.link-missing'));
  if (missing && !field.value) missing.hidden = false;
}
