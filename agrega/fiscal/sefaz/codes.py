"""Each cStat the NFCom web services (and the sandbox) answer, in plain Portuguese.

The SEFAZ's ``xMotivo`` is terse ("Rejeição: CNPJ-Base do Emitente difere do CNPJ-Base do
Certificado Digital"); the ISP's staff need to know what happened and what to do. The
codes follow the MOC NFCom 1.00a (Visão Geral §4–6 and Anexo I, regras de validação —
checked on 2026-12-07; the NF-e codes the first version borrowed, 225/501/502/573 and 236
for the key's check digit, are gone); ``explain`` falls back to the SEFAZ's own text for a
code not listed.
"""

from __future__ import annotations

AUTHORISED = frozenset({"100", "150"})
EVENT_REGISTERED = frozenset({"135", "136"})
IN_SERVICE = "107"
OUT_OF_SERVICE = frozenset({"108", "109"})

MESSAGES: dict[str, str] = {
    "100": "NFCom autorizada pela SEFAZ.",
    "101": "A NFCom foi cancelada na SEFAZ.",
    "102": "A NFCom foi substituída por uma NFCom de substituição autorizada.",
    "107": "O serviço da SEFAZ está funcionando.",
    "108": "A SEFAZ está fora do ar por pouco tempo; as notas esperam e são enviadas quando ela voltar.",
    "109": "A SEFAZ está fora do ar sem previsão de volta; as notas esperam e são enviadas quando ela voltar.",
    "135": "Evento registrado na SEFAZ (por exemplo, o cancelamento da NFCom).",
    "150": "NFCom autorizada fora de prazo (emitida em contingência e enviada depois de 120 horas).",
    "204": "Esta NFCom já tinha sido autorizada antes (mesma chave); o protocolo existente vale.",
    "208": "A NFCom que esta substitui não existe na SEFAZ; confira a chave da original.",
    "210": "A NFCom original está cancelada e não pode ser substituída.",
    "211": "A NFCom original já foi substituída por outra.",
    "212": "A data de emissão está no futuro; confira o relógio do servidor e emita de novo.",
    "213": "O CNPJ do emitente não é o do certificado digital usado; confira o certificado A1 em Configurações > Fiscal.",
    "215": "O XML enviado não segue o leiaute oficial (schema); corrija os dados apontados e reenvie.",
    "217": "A SEFAZ não tem esta NFCom na base: ela nunca foi autorizada.",
    "218": "Esta NFCom já está cancelada na SEFAZ.",
    "219": "Só uma NFCom normal ou de substituição pode ser substituída.",
    "220": "O prazo legal de cancelamento acabou (120 horas após o fim do mês da autorização); corrija com uma NFCom de substituição.",
    "221": "A NFCom de substituição deve ser do mesmo CNPJ emitente da original.",
    "222": "O número do protocolo informado no cancelamento não é o da autorização da NFCom.",
    "224": "Esta NFCom já foi substituída na SEFAZ.",
    "227": "A chave de acesso do campo Id não corresponde aos dados da nota (erro do sistema; avise o suporte).",
    "228": "A data de emissão é antiga demais para a SEFAZ aceitar; emita a nota com a data de hoje.",
    "236": "A chave de acesso informada é inválida (erro do sistema; avise o suporte).",
    "244": "A SEFAZ não conseguiu descompactar a nota enviada (erro do sistema; avise o suporte).",
    "252": "O ambiente da nota (produção/homologação) não é o do serviço chamado; confira o ambiente em Configurações > Fiscal.",
    "253": "A chave de acesso tem dígito verificador errado (erro do sistema; avise o suporte).",
    "280": "A SEFAZ não aceitou o certificado digital usado na conexão; confira o certificado A1.",
    "290": "A SEFAZ não aceitou o certificado digital da assinatura; confira o certificado A1.",
    "291": "O certificado digital da assinatura está vencido; instale um certificado A1 válido.",
    "297": "A assinatura digital não confere com o conteúdo da nota (a nota mudou depois de assinada); assine de novo.",
    "298": "A assinatura digital não segue o padrão exigido (erro do sistema; avise o suporte).",
    "404": "A assinatura usa um prefixo de namespace (ds:), que a SEFAZ não aceita (erro do sistema; avise o suporte).",
    "411": "NFCom de substituição sem o grupo gSub (erro do sistema; avise o suporte).",
    "412": "O grupo gSub só vai numa NFCom de substituição (erro do sistema; avise o suporte).",
    "413": "A NFCom original tem mais de 5 anos e não pode mais ser substituída.",
    "414": "A chave de acesso da NFCom substituída é inválida.",
    "484": "O destinatário da NFCom de substituição deve ser o mesmo da original (mesmo CPF/CNPJ).",
    "524": "Uma NFCom de substituição não pode ser cancelada; corrija com outra substituição.",
    "527": "A NFCom de substituição deve ter o mesmo tipo de faturamento da original.",
    "539": "Já existe outra NFCom autorizada com esta série e número e uma chave diferente; a numeração precisa ser conferida.",
    "628": "O Id do evento não corresponde aos seus campos (erro do sistema; avise o suporte).",
    "629": "Tipo de evento inválido (erro do sistema; avise o suporte).",
    "630": "O evento não segue o leiaute oficial (schema) (erro do sistema; avise o suporte).",
    "631": "Este evento já tinha sido registrado na SEFAZ.",
    "999": "A SEFAZ recusou a nota com um erro não catalogado; tente de novo mais tarde ou avise o suporte.",
}


def explain(c_stat: str, x_motivo: str = "") -> str:
    """The plain-Portuguese message for ``c_stat`` (the SEFAZ's text when unknown)."""
    message = MESSAGES.get(c_stat)
    if message:
        return message
    return f"A SEFAZ respondeu {c_stat}: {x_motivo}" if x_motivo else f"A SEFAZ respondeu o código {c_stat}."
