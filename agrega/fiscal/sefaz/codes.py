"""Each cStat the NFCom web services (and the sandbox) answer, in plain Portuguese.

The SEFAZ's ``xMotivo`` is terse ("Rejeição: CNPJ-Base do Emitente difere do CNPJ-Base do
Certificado Digital"); the ISP's staff need to know what happened and what to do. The
codes follow the MOC NFCom (Anexo I, regras de validação); ``explain`` falls back to the
SEFAZ's own text for a code not listed.
"""

from __future__ import annotations

AUTHORISED = frozenset({"100", "150"})
EVENT_REGISTERED = frozenset({"135", "136"})
IN_SERVICE = "107"
OUT_OF_SERVICE = frozenset({"108", "109"})

MESSAGES: dict[str, str] = {
    "100": "NFCom autorizada pela SEFAZ.",
    "101": "A NFCom foi cancelada na SEFAZ.",
    "107": "O serviço da SEFAZ está funcionando.",
    "108": "A SEFAZ está fora do ar por pouco tempo; as notas esperam e são enviadas quando ela voltar.",
    "109": "A SEFAZ está fora do ar sem previsão de volta; as notas esperam e são enviadas quando ela voltar.",
    "135": "Evento registrado na SEFAZ (por exemplo, o cancelamento da NFCom).",
    "204": "Esta NFCom já tinha sido autorizada antes (mesma chave); o protocolo existente vale.",
    "212": "A data de emissão está no futuro; confira o relógio do servidor e emita de novo.",
    "213": "O CNPJ do emitente não é o do certificado digital usado; confira o certificado A1 em Configurações > Fiscal.",
    "215": "A mensagem enviada à SEFAZ tem formato inválido (erro do sistema; avise o suporte).",
    "217": "A SEFAZ não tem esta NFCom na base: ela nunca foi autorizada.",
    "218": "Esta NFCom já está cancelada na SEFAZ.",
    "222": "O número do protocolo informado no cancelamento não é o da autorização da NFCom.",
    "225": "O XML da NFCom não segue o leiaute oficial (schema); corrija os dados apontados e reenvie.",
    "228": "A data de emissão é antiga demais para a SEFAZ aceitar; emita a nota com a data de hoje.",
    "236": "A chave de acesso tem dígito verificador errado (erro do sistema; avise o suporte).",
    "244": "A SEFAZ não conseguiu descompactar a nota enviada (erro do sistema; avise o suporte).",
    "252": "O ambiente da nota (produção/homologação) não é o do serviço chamado; confira o ambiente em Configurações > Fiscal.",
    "280": "A SEFAZ não aceitou o certificado digital usado na conexão; confira o certificado A1.",
    "290": "A SEFAZ não aceitou o certificado digital da assinatura; confira o certificado A1.",
    "291": "O certificado digital da assinatura está vencido; instale um certificado A1 válido.",
    "297": "A assinatura digital não confere com o conteúdo da nota (a nota mudou depois de assinada); assine de novo.",
    "298": "A assinatura digital não segue o padrão exigido (erro do sistema; avise o suporte).",
    "404": "A assinatura usa um prefixo de namespace (ds:), que a SEFAZ não aceita (erro do sistema; avise o suporte).",
    "501": "O prazo legal de cancelamento acabou; a correção segue pelo caminho previsto no manual (substituição/ajuste).",
    "502": "A chave de acesso não corresponde aos dados da nota (erro do sistema; avise o suporte).",
    "539": "Já existe outra NFCom autorizada com esta série e número e uma chave diferente; a numeração precisa ser conferida.",
    "573": "Este evento já tinha sido registrado na SEFAZ.",
    "999": "A SEFAZ recusou a nota com um erro não catalogado; tente de novo mais tarde ou avise o suporte.",
}


def explain(c_stat: str, x_motivo: str = "") -> str:
    """The plain-Portuguese message for ``c_stat`` (the SEFAZ's text when unknown)."""
    message = MESSAGES.get(c_stat)
    if message:
        return message
    return f"A SEFAZ respondeu {c_stat}: {x_motivo}" if x_motivo else f"A SEFAZ respondeu o código {c_stat}."
