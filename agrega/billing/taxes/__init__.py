"""Tax rates and the revenue report: a sub-domain of billing with its own rules
(``services``), forms, pages (``views``/``urls``) and API (``api``), kept in one package so
the billing app's top level stays about invoices and payments."""
