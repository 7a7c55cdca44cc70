"""The notice texts: the defaults, the variables a template may use, and a Django template
engine of its own — no loaders, no {% load %}, no autoescape (plain-text e-mail) — so a
template edited on the page can only reach the few plain values given to it."""

from __future__ import annotations

import re

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import VariableNode
from django.template.loader_tags import ExtendsNode, IncludeNode

from .models import NoticeEvent

# name → what it holds (shown on the template page and in the API documentation).
VARIABLES: dict[str, str] = {
    "cliente": "nome do cliente",
    "contrato": "número do contrato",
    "produto": "nome do produto SVA",
    "pacote": "código do pacote SVA na plataforma",
    "email": "e-mail de acesso ao serviço (o e-mail cadastrado)",
    "usuario": "o mesmo que email: o usuário de acesso",
    "telefone": "celular cadastrado, ex.: (11) 98765-4321",
    "documento": "CPF/CNPJ cadastrado, formatado, ex.: 529.982.247-25 ou 12.ABC.345/01DE-35",
    "plataforma": "nome da plataforma SVA da integração (o rótulo do conector)",
    "como_usar": "as instruções de “Como usar” da integração",
    "pix_copia_e_cola": "PIX copia e cola do título em aberto mais antigo do contrato (vazio se não houver); "
                        "o aviso de bloqueio já o traz ao final, com o QR code, sem precisar desta variável",
}

DEFAULT_HOW_TO_USE = (
    "1. Baixe o aplicativo {{ plataforma }} na loja de aplicativos do seu celular (Google Play ou App Store).\n"
    "2. Abra o aplicativo e entre com o seu e-mail ({{ email }}){% if telefone %} e o celular {{ telefone }}"
    "{% endif %}, os mesmos cadastrados no seu contrato.\n"
    "3. Siga as instruções do aplicativo para ativar as proteções. O serviço já está incluído no seu plano."
)

_SIGNATURE = "\n\nEm caso de dúvida, fale com a nossa central de atendimento.\n"

DEFAULTS: dict[str, tuple[str, str]] = {
    NoticeEvent.CREATED: (
        "Seu acesso ao {{ produto }} está pronto",
        "Olá, {{ cliente }}!\n\n"
        "Seu acesso ao {{ produto }} ({{ plataforma }}), incluído no seu contrato {{ contrato }}, foi criado "
        "e já está ativo.\n\n"
        "Como começar a usar:\n{{ como_usar }}\n\n"
        "Seu usuário de acesso: {{ email }}" + _SIGNATURE,
    ),
    NoticeEvent.BLOCKED: (
        "Seu acesso ao {{ produto }} foi bloqueado",
        "Olá, {{ cliente }}!\n\n"
        "O seu acesso ao {{ produto }} ({{ plataforma }}) foi bloqueado porque acompanha a situação do seu "
        "contrato {{ contrato }}. Assim que a situação do contrato for regularizada, o acesso é liberado "
        "automaticamente e avisaremos você por este e-mail." + _SIGNATURE,
    ),
    NoticeEvent.RELEASED: (
        "Seu acesso ao {{ produto }} foi liberado",
        "Olá, {{ cliente }}!\n\n"
        "O seu acesso ao {{ produto }} ({{ plataforma }}), do contrato {{ contrato }}, foi liberado e já pode "
        "ser usado novamente.\n\n"
        "Como usar:\n{{ como_usar }}\n\n"
        "Seu usuário de acesso: {{ email }}" + _SIGNATURE,
    ),
}

# Only tags and filters that can neither reach beyond the given values (files, other
# libraries, the context dump) nor make the output grow without bound (loops, {% lorem %},
# {% with %} doubling, |ljust:"999999999", |stringformat:"999999999s"…): a whitelist.
ALLOWED_TAGS = frozenset({"if", "elif", "else", "endif", "firstof", "now", "comment", "endcomment"})
ALLOWED_FILTERS = frozenset({
    "default", "default_if_none", "upper", "lower", "title", "capfirst", "truncatechars", "truncatewords",
    "cut", "date", "time", "first", "last", "length", "yesno", "slice", "striptags", "pluralize", "wordcount",
})
MAX_TEMPLATE_CHARS = 20_000  # the text an operator writes
MAX_OUTPUT_CHARS = 50_000  # what one template may produce
_TAG = re.compile(r"{%\s*(\w+)")
_CODE = re.compile(r"{{.*?}}|{%.*?%}", re.S)
_FILTER = re.compile(r"\|\s*(\w+)")

ENGINE = Engine(loaders=[], libraries={}, autoescape=False, debug=False, string_if_invalid="")
# what the engine knows but a notice may not use (an unknown name gets Django's own error)
_BUILTIN_TAGS = frozenset().union(*(lib.tags for lib in ENGINE.template_builtins)) | {"load"}
_BUILTIN_FILTERS = frozenset().union(*(lib.filters for lib in ENGINE.template_builtins))


class TemplateProblem(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# Django's template errors are in English; the common ones, said in Portuguese.
_ERRORS = (
    (re.compile(r"Unclosed tag on line (\d+): '(\w+)'\. Looking for one of: (.+)\."),
     "tag {{% {1} %}} da linha {0} não foi fechada (falta {{% {last} %}})"),
    (re.compile(r"Invalid block tag on line (\d+): '(\w+)'.*"), "tag {{% {1} %}} desconhecida ou fora de lugar na linha {0}"),
    (re.compile(r"Invalid filter: '(\w+)'"), "filtro “{0}” não existe"),
    (re.compile(r"Empty variable tag on line (\d+)"), "variável vazia {{{{ }}}} na linha {0}"),
)


def _in_portuguese(message: str) -> str:
    for pattern, text in _ERRORS:
        match = pattern.fullmatch(message)
        if match:
            groups = match.groups()
            return text.format(*groups, last=groups[-1].split(", ")[-1] if groups else "")
    return message


def compile_template(text: str, *, allowed: set[str] | None = None):
    """Compile ``text``; TemplateProblem (with a Portuguese message) when it is not a
    valid template, uses a forbidden tag or a variable not in ``allowed``."""
    allowed = set(VARIABLES) if allowed is None else allowed
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateProblem("template_too_long", f"Modelo longo demais: no máximo {MAX_TEMPLATE_CHARS} caracteres.")
    for tag in _TAG.findall(text):
        if tag not in ALLOWED_TAGS and tag in _BUILTIN_TAGS:
            raise TemplateProblem("template_tag_not_allowed", f"A tag {{% {tag} %}} não é permitida nos avisos. "
                                  "Use: " + ", ".join(sorted(ALLOWED_TAGS - {"endif", "endcomment"})) + ".")
    for code in _CODE.findall(text):
        for name in _FILTER.findall(code):
            if name not in ALLOWED_FILTERS and name in _BUILTIN_FILTERS:
                raise TemplateProblem("template_filter_not_allowed", f"O filtro “{name}” não é permitido nos "
                                      "avisos. Use: " + ", ".join(sorted(ALLOWED_FILTERS)) + ".")
    try:
        template = ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        raise TemplateProblem("template_invalid", f"Modelo inválido: {_in_portuguese(str(exc))}") from None
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        var = node.filter_expression.var
        name = getattr(var, "var", None)
        if isinstance(name, str) and getattr(var, "literal", None) is None:
            root = name.split(".")[0]
            if root not in allowed:
                raise TemplateProblem(
                    "template_unknown_variable",
                    f"Variável desconhecida: {{{{ {name} }}}}. Use: " + ", ".join(sorted(allowed)) + ".",
                )
    for node in template.nodelist.get_nodes_by_type(IncludeNode) + template.nodelist.get_nodes_by_type(ExtendsNode):
        raise TemplateProblem("template_tag_not_allowed", "Inclusão de outros modelos não é permitida nos avisos.")
    return template


def render(text: str, context: dict, *, allowed: set[str] | None = None) -> str:
    out = compile_template(text, allowed=allowed).render(Context(context, autoescape=False))
    if len(out) > MAX_OUTPUT_CHARS:
        raise TemplateProblem("template_output_too_long",
                              f"O aviso montado passa de {MAX_OUTPUT_CHARS} caracteres: encurte o modelo.")
    return out


def one_line(text: str, limit: int = 250) -> str:
    return " ".join(text.split())[:limit]


SAMPLE_CONTEXT = {
    "cliente": "Maria Souza",
    "contrato": "1234",
    "produto": "Segurança Família",
    "pacote": "SEG-FAMILIA",
    "email": "maria.souza@example.com.br",
    "usuario": "maria.souza@example.com.br",
    "telefone": "(11) 98765-4321",
    "documento": "529.982.247-25",
    "plataforma": "Plataforma SVA",  # the preview puts the integration's label here
    "pix_copia_e_cola": "00020101021226830014br.gov.bcb.pix2561pix.example.com/qr/v2/cobv/9d36b84f520400005303986"
                        "5802BR5913Provedor Ltda6009SAO PAULO62070503***6304ABCD",
}


# The régua's debt notice (agrega/dunning): one fixed text for every contract, not per
# integration. Its values: cliente, contrato, valor ("R$ 1.234,50"), vencimento
# (dd/mm/aaaa), situacao (what the stage did, or ""), proxima_etapa, proxima_data, dias.
DEBT_DEFAULT = (
    "Aviso de débito do contrato {{ contrato }}",
    "Olá, {{ cliente }}!\n\n"
    "Consta em aberto no seu contrato {{ contrato }} o valor de {{ valor }}, com o vencimento mais antigo "
    "em {{ vencimento }}.{% if situacao %} {{ situacao }}{% endif %}\n\n"
    "{% if proxima_etapa %}Se o débito não for pago, em {{ dias }} dia{{ dias|pluralize }} ({{ proxima_data }}) "
    "haverá {{ proxima_etapa }}, conforme as regras de cobrança do seu contrato.\n\n{% endif %}"
    "Para regularizar, pague o título em aberto. Se você já pagou, por favor desconsidere este aviso."
    + _SIGNATURE,
)

# What a stage of the régua means to the customer (dunning.models.DunningAction values).
DEBT_NEXT = {
    "notice": "um novo aviso de débito",
    "partial_suspension": "a suspensão parcial do serviço",
    "block_overdue": "a suspensão do serviço",
    "block_automatic": "a suspensão total do serviço",
    "rescind": "a rescisão do contrato",
}
DEBT_NOW = {
    "partial_suspension": "Por isso, o serviço está parcialmente suspenso.",
    "block_overdue": "Por isso, o serviço está suspenso.",
    "block_automatic": "Por isso, o serviço está totalmente suspenso.",
    "rescind": "Por isso, o contrato foi rescindido.",
}
