"""Notice texts: a bad template is refused on save with the field and a clear message,
nothing is saved; the defaults; the preview."""

import pytest

from agrega.core.errors import ApplicationError
from agrega.notices.models import NoticeSettings, NoticeTemplate
from agrega.notices.rendering import DEFAULTS
from agrega.notices.selectors import integration_texts
from agrega.notices.services import notice_texts_save, preview_notice

from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


def refused(integration, **kw) -> dict[str, list[tuple[str, str]]]:
    with pytest.raises(ApplicationError) as exc:
        notice_texts_save(integration=integration, **kw)
    assert exc.value.status_code == 422
    return {name: [(e.code, e.message) for e in errors] for name, errors in exc.value.fields.items()}


def test_bad_templates_are_refused_and_nothing_is_saved(platform_integration):
    fields = refused(platform_integration, how_to_use="Use {{ como_usar }}", events={
        "created": {"enabled": True, "subject": "Oi {{ cliente|sobrenome }}", "body": "{% if cliente %}sem fim"},
        "blocked": {"enabled": True, "subject": "Bloqueado {{ nome_cliente }}", "body": "{% load static %}x"},
        "released": {"enabled": True, "subject": "", "body": "{% include 'web/base.html' %}"},
    })
    assert fields["created.subject"][0][0] == "template_invalid"
    assert fields["created.subject"][0][1] == "Modelo inválido: filtro “sobrenome” não existe"
    assert fields["created.body"] == [
        ("template_invalid", "Modelo inválido: tag {% if %} da linha 1 não foi fechada (falta {% endif %})")]
    assert fields["blocked.subject"] == [(
        "template_unknown_variable",
        "Variável desconhecida: {{ nome_cliente }}. Use: cliente, como_usar, contrato, documento, email, pacote, "
        "pix_copia_e_cola, plataforma, produto, telefone, usuario.")]
    assert fields["blocked.body"][0][0] == "template_tag_not_allowed"
    assert fields["released.subject"][0][0] == "template_required"
    assert fields["released.body"][0][0] == "template_tag_not_allowed"
    assert fields["how_to_use"][0][0] == "template_unknown_variable"  # como_usar inside itself
    assert not NoticeTemplate.objects.exists() and not NoticeSettings.objects.exists()
    assert refused(platform_integration, events={"created": {"subject": "{{ cliente|date:1|nope }}", "body": "x"}})[
        "created.subject"][0][0] == "template_invalid"


def test_saving_own_texts_and_back_to_the_default(platform_integration, django_user_model):
    admin = django_user_model.objects.create_user("admin-avisos", password="x")
    notice_texts_save(integration=platform_integration, actor=admin, events={
        "blocked": {"enabled": True, "subject": "Acesso suspenso: {{ produto }}", "body": "Regularize, {{ cliente }}."},
    })
    texts = integration_texts(platform_integration)
    assert texts["events"]["blocked"]["custom"] and texts["events"]["blocked"]["updated_by"] == "admin-avisos"
    assert texts["events"]["created"]["subject"] == DEFAULTS["created"][0] and not texts["events"]["created"]["custom"]
    subject, body = DEFAULTS["blocked"]
    notice_texts_save(integration=platform_integration,
                      events={"blocked": {"enabled": True, "subject": subject, "body": body}})
    assert not NoticeTemplate.objects.filter(integration=platform_integration).exists()


def test_preview_renders_with_sample_values_or_says_why_not(platform_integration):
    ok = preview_notice(integration=platform_integration, event="created", subject="Olá {{ cliente }}",
                        body="Use {{ email }}.\n{{ como_usar }}", how_to_use="Baixe o app {{ plataforma }}.")
    assert ok == {"ok": True, "subject": "Olá Maria Souza",
                  "body": "Use maria.souza@example.com.br.\nBaixe o app EXA.\n"}
    bad = preview_notice(integration=platform_integration, event="created", subject="{{ x }}", body="y")
    assert bad["ok"] is False and bad["code"] == "template_unknown_variable"


@pytest.mark.parametrize("body,code", [
    ("{% lorem 999999 w %}", "template_tag_not_allowed"),
    ("{% for a in cliente %}{% for b in cliente %}{{ a }}{% endfor %}{% endfor %}", "template_tag_not_allowed"),
    ("{% with a=cliente %}{{ a }}{% endwith %}", "template_tag_not_allowed"),
    ("{% widthratio 1 1 999999999 %}", "template_tag_not_allowed"),
    ("{% cycle 'a' 'b' %}", "template_tag_not_allowed"),
    ("{% filter upper %}x{% endfilter %}", "template_tag_not_allowed"),
    ("{{ cliente|ljust:'999999999' }}", "template_filter_not_allowed"),
    ("{{ cliente|center:'999999999' }}", "template_filter_not_allowed"),
    ("{{ contrato|stringformat:'999999999s' }}", "template_filter_not_allowed"),
    ("{% if cliente|rjust:'99999999' %}x{% endif %}", "template_filter_not_allowed"),
    ("{{ cliente|floatformat:'-999999' }}", "template_filter_not_allowed"),
    ("x" * 20_001, "template_too_long"),
    ("{{email}}" * 2000, "template_output_too_long"),
])
def test_templates_that_could_produce_unbounded_output_are_refused_on_save(platform_integration, body, code):
    fields = refused(platform_integration, events={"created": {"enabled": True, "subject": "Oi", "body": body}})
    assert fields["created.body"][0][0] == code, fields
    assert fields["created.body"][0][1]  # a message in Portuguese for the page
    assert not NoticeTemplate.objects.exists()


def test_instructions_count_in_the_size_of_the_notices_that_use_them(platform_integration):
    """``{{ como_usar }}`` a thousand times is small until the instructions are long."""
    how_to_use = "Baixe o aplicativo {{ plataforma }}. " * 500
    fields = refused(platform_integration, how_to_use=how_to_use,
                     events={"created": {"enabled": True, "subject": "Oi", "body": "{{ como_usar }}" * 10}})
    assert fields["created.body"][0][0] == "template_output_too_long"


def test_allowed_tags_and_filters_still_work(platform_integration):
    body = ("{% if telefone %}Cel.: {{ telefone }}{% else %}sem celular{% endif %} "
            "{{ cliente|upper|truncatechars:40 }} {% firstof telefone email %} {# nota #}"
            "{% comment %}interno{% endcomment %} {{ produto|default:'EXA' }}")
    notice_texts_save(integration=platform_integration,
                      events={"created": {"enabled": True, "subject": "Oi", "body": body}})
    preview = preview_notice(integration=platform_integration, event="created", subject="Oi", body=body)
    assert preview["ok"] and "MARIA SOUZA" in preview["body"] and "interno" not in preview["body"]
