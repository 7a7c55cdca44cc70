/* Page behaviours, from this origin only: the Content-Security-Policy allows no inline
   script (agrega/ops/middleware.py). Each part acts only on the page whose elements it
   names, by id or data- attribute. */
(function () {
  /* Any page: a field that submits its form when it changes (filters). */
  document.addEventListener('change', function (e) {
    if (e.target.matches('[data-submit-on-change]') && e.target.form) e.target.form.submit();
  });

  /* Any form page after a failed save: the error summary takes the focus, so a screen
     reader reads it and the keyboard starts there. A wide table's scroll container can
     be scrolled from the keyboard (it takes the focus; axe: scrollable-region-focusable). */
  document.addEventListener('DOMContentLoaded', function () {
    var summary = document.querySelector('[data-error-summary]');
    if (summary) summary.focus();
  });
  function focusableScrollers(root) {
    /* a table wider than a phone scrolls inside its own box, never the page */
    root.querySelectorAll('main table.table').forEach(function (table) {
      if (table.closest('.table-responsive')) return;
      var box = document.createElement('div');
      box.className = 'table-responsive';
      table.parentNode.insertBefore(box, table);
      box.appendChild(table);
    });
    root.querySelectorAll('.table-responsive:not([tabindex])').forEach(function (box) {
      box.setAttribute('tabindex', '0');
      if (box.hasAttribute('aria-label')) return;
      var table = box.querySelector('table');
      var caption = box.querySelector('caption');
      var name = caption ? caption.textContent.trim() : (table && table.getAttribute('aria-label'));
      if (name) {  /* a named region (a nameless one would repeat an anonymous landmark) */
        box.setAttribute('role', 'region');
        box.setAttribute('aria-label', name);
      }
    });
  }
  document.addEventListener('DOMContentLoaded', function () { focusableScrollers(document); });
  document.addEventListener('htmx:afterSettle', function (e) { focusableScrollers(e.target.parentNode || document); });

  /* Any lupa field: the x clears the id and its label and tells listeners. */
  document.addEventListener('click', function (e) {
    var button = e.target.closest('[data-clear-field]');
    if (!button) return;
    var field = document.getElementById(button.dataset.clearField);
    if (!field) return;
    field.value = '';
    var label = document.getElementById(button.dataset.clearField + '_label');
    if (label) label.value = '';
    field.dispatchEvent(new Event('change', {bubbles: true}));
  });

  /* Contract page: open the tab named in the address (#produtos, #sva, #financeiro,
     #historico) and keep the address on the tab shown. */
  document.addEventListener('DOMContentLoaded', function () {
    var tabs = document.querySelector('[data-hash-tabs]');
    if (!tabs) return;
    var hash = window.location.hash;
    var button = hash && tabs.querySelector('[data-bs-target="' + CSS.escape(hash) + '"]');
    if (button) bootstrap.Tab.getOrCreateInstance(button).show();
    tabs.querySelectorAll('[data-bs-toggle="tab"]').forEach(function (b) {
      b.addEventListener('shown.bs.tab', function () { history.replaceState(null, '', b.dataset.bsTarget); });
    });
  });

  /* Contract > Produtos > Novo: changing the type clears a product the new type would not list. */
  document.addEventListener('change', function (e) {
    if (e.target.name !== 'kind' || !e.target.closest('#product-add')) return;
    document.getElementById('id_product').value = '';
    document.getElementById('id_product_label').value = '';
  });

  /* Contract > SVA > Novo: "ID integração" follows the product's integration; "Usar dados
     do cliente" fills the registration fields from the customer, read-only. */
  document.addEventListener('change', function (e) {
    var form = e.target.closest('#sva-create');
    if (!form) return;
    if (e.target.name === 'contract_product') {
      var option = e.target.selectedOptions[0];
      if (option) document.getElementById('id_integration').value = option.dataset.integration;
    }
    if (e.target.name === 'use_customer_data') {
      var box = document.getElementById('registration-fields');
      var inputs = {document: 'id_document', email: 'id_email', phone: 'id_phone'};
      var fromCustomer = e.target.value === 'sim';
      Object.keys(inputs).forEach(function (key) {
        var input = document.getElementById(inputs[key]);
        input.readOnly = fromCustomer;
        input.value = fromCustomer ? box.dataset['customer' + key.charAt(0).toUpperCase() + key.slice(1)] : '';
      });
      var problems = document.getElementById('customer-problems');
      if (problems) problems.hidden = !fromCustomer;
    }
  });

  /* Planos > form: "Adicionar produto" copies an empty row; the x removes one (an empty row stays). */
  document.addEventListener('DOMContentLoaded', function () {
    var table = document.getElementById('plan-items');
    if (!table) return;
    var body = table.querySelector('tbody');
    function renumber() {
      body.querySelectorAll('tr[data-item-row]').forEach(function (tr, i) {
        tr.querySelector('select').setAttribute('aria-label', 'Produto do item ' + (i + 1));
        tr.querySelector('input').setAttribute('aria-label', 'Valor do item ' + (i + 1));
        tr.querySelector('[data-remove-row]').setAttribute('aria-label', 'Remover item ' + (i + 1));
      });
    }
    document.getElementById('add-item').addEventListener('click', function () {
      var row = body.querySelector('tr[data-item-row]').cloneNode(true);
      row.querySelector('select').value = '';
      row.querySelector('select').classList.remove('is-invalid');
      row.querySelector('input').value = '';
      row.querySelectorAll('[data-row-error]').forEach(function (el) { el.remove(); });
      body.appendChild(row);
      renumber();
      row.querySelector('select').focus();
    });
    body.addEventListener('click', function (e) {
      var button = e.target.closest('[data-remove-row]');
      if (!button) return;
      var rows = body.querySelectorAll('tr[data-item-row]');
      var tr = button.closest('tr');
      if (rows.length > 1) tr.remove();
      else { tr.querySelector('select').value = ''; tr.querySelector('input').value = ''; }
      renumber();
    });
  });

  /* Avisos > Textos: "Restaurar padrão" puts back the default subject and body. */
  document.addEventListener('click', function (e) {
    var button = e.target.closest('[data-reset]');
    var data = document.getElementById('notice-defaults');
    if (!button || !data) return;
    var event = button.dataset.reset;
    var defaults = JSON.parse(data.textContent)[event];
    document.getElementById('id_' + event + '_subject').value = defaults.subject;
    document.getElementById('id_' + event + '_body').value = defaults.body;
    document.getElementById('id_' + event + '_enabled').checked = true;
  });

  /* Any page: a form with data-confirm asks before it is sent (e.g. deactivating a user). */
  document.addEventListener('submit', function (e) {
    var form = e.target.closest('form[data-confirm]');
    if (form && !window.confirm(form.dataset.confirm)) e.preventDefault();
  });
})();
