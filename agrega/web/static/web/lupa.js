/* Lupa (picker) modals, see web/_lupa_modal.html and web/_lupa_pick.html. */
(function () {
  /* Opening a lupa fetches its rows (with whatever is in its search box). */
  document.addEventListener('show.bs.modal', function (e) {
    var search = e.target.querySelector('[data-lupa-search]');
    if (search) htmx.trigger(search, 'lupa-open');
  });
  /* Once open, the search box has the focus: the operator types at once. */
  document.addEventListener('shown.bs.modal', function (e) {
    e.target.dataset.lupaShown = '1';
    var search = e.target.querySelector('[data-lupa-search]');
    if (search) search.focus();
  });
  document.addEventListener('hidden.bs.modal', function (e) { delete e.target.dataset.lupaShown; });

  /* "Selecionar": fill the hidden id and the read-only label, tell listeners, close the modal. */
  document.addEventListener('click', function (e) {
    var button = e.target.closest('[data-pick-field]');
    if (!button) return;
    var field = document.getElementById(button.dataset.pickField);
    if (!field) return;
    field.value = button.dataset.pickValue;
    var label = document.getElementById(button.dataset.pickField + '_label');
    if (label) label.value = button.dataset.pickLabel;
    field.dispatchEvent(new Event('change', {bubbles: true}));
    var modal = button.closest('.modal');
    if (!modal) return;
    var instance = bootstrap.Modal.getOrCreateInstance(modal);
    /* Bootstrap ignores hide() while the modal is still fading in: wait until it is shown. */
    if (modal.dataset.lupaShown) instance.hide();
    else modal.addEventListener('shown.bs.modal', function () { instance.hide(); }, {once: true});
  });
})();
