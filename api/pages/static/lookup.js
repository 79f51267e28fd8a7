// The receipt's link carries the code and the secret in the fragment (#code=…&secret=…): the
// browser never sends a fragment to the server. Fill the form from it, forget it, and submit.
(function () {
  "use strict";
  var form = document.getElementById("lookup-form");
  if (!form) return;
  var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  var code = fragment.get("code"), secret = fragment.get("secret");
  if (code && secret) {
    form.elements.code.value = code;
    form.elements.secret.value = secret;
    // Keep the secret out of the address bar and the history from now on.
    history.replaceState(null, "", window.location.pathname + window.location.search);
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }
  // The language switch keeps the answer on screen: post the lookup again in that language.
  document.querySelectorAll("a[data-lang]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!form.elements.code.value || !form.elements.secret.value) return;
      event.preventDefault();
      form.elements.lang.value = link.dataset.lang;
      form.submit(); // a whole page (not HTMX): every word changes language
    });
  });
})();
