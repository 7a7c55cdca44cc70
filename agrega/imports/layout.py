"""The CSV layout of "clientes e contratos" (docs/imports.md): our columns and the header
names each is recognised by. Reading the file (encoding, separator, BOM, header) is the
project's one CSV reader, ``agrega.core.csvio.read_table``."""

from __future__ import annotations

from dataclasses import dataclass

from agrega.core.csvio import normalise_header
from agrega.core.errors import ApplicationError, FieldError


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("contrato_ref", "Nº do contrato na origem", True,
           ("contrato", "numero_contrato", "n_contrato", "no_contrato", "n_do_contrato", "numero_do_contrato",
            "num_contrato", "contrato_id", "id_contrato", "codigo_contrato", "ref"),
           "Chave natural: uma linha por contrato; reimportar a mesma referência não cria nada de novo."),
    Column("nome", "Nome / razão social", True, ("nome_cliente", "cliente", "razao_social", "nome_razao_social")),
    Column("cpf_cnpj", "CPF/CNPJ", True, ("cpf", "cnpj", "documento", "cpfcnpj", "cpf_cnpj_cliente")),
    Column("email", "E-mail principal", False, ("e_mail", "email_principal", "correio_eletronico")),
    Column("celular", "Telefone celular", False,
           ("telefone_celular", "fone_celular", "whatsapp", "telefone", "celular_cliente")),
    Column("endereco", "Endereço", False, ("logradouro", "rua")),
    Column("numero", "Número", False, ("num", "numero_endereco")),
    Column("bairro", "Bairro"),
    Column("cidade", "Cidade", False, ("municipio",)),
    Column("uf", "UF", False, ("estado",)),
    Column("cep", "CEP"),
    Column("dia_vencimento", "Dia de vencimento", False, ("vencimento", "dia_venc", "dia_de_vencimento"),
           "1 a 31; vazio = 10."),
    Column("descricao", "Descrição do contrato", False, ("descricao_contrato", "observacao")),
    Column("plano", "Plano de venda", False, ("plano_de_venda", "plano_venda"),
           "Nome ou ID do plano: os produtos do plano entram no contrato."),
    Column("status", "Status do contrato", False, ("status_contrato", "situacao"),
           "P (pré-contrato, padrão) ou A (ativo: o contrato é ativado)."),
    Column("produtos", "Produtos", False, ("produto", "servicos", "produtos_servicos"),
           "Separados por |; cada um é o ID, o pacote SVA ou a descrição do produto, "
           "com o valor opcional após = (ex.: 12|SEG-BASICO=9,90)."),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
LABELS = {c.name: c.label for c in COLUMNS}
def guess_mapping(headers: list[str]) -> dict[str, str]:
    """Our column → the file's header, for each header recognised by name or alias."""
    by_norm = {}
    for header in headers:
        by_norm.setdefault(normalise_header(header), header)
    mapping = {}
    for column in COLUMNS:
        for candidate in (column.name, *column.aliases):
            if candidate in by_norm:
                mapping[column.name] = by_norm[candidate]
                break
    return mapping


def check_mapping(mapping: dict, headers: list[str]) -> dict[str, str]:
    """A mapping cleaned of blanks; every key one of our columns and every value a header
    of the file; every required column mapped. Raises with one message per problem."""
    problems: dict[str, list[FieldError]] = {}
    clean: dict[str, str] = {}
    if not isinstance(mapping, dict):
        raise ApplicationError("mapping_invalid", "O mapeamento deve ser um objeto JSON {coluna: cabeçalho}.",
                               status_code=422)
    for name, header in mapping.items():
        if header in (None, ""):
            continue
        if name not in LABELS:
            problems.setdefault(name, []).append(FieldError(
                "mapping_unknown_column", f"Coluna desconhecida: {name}. Use: {', '.join(COLUMN_NAMES)}."))
        elif header not in headers:
            problems.setdefault(name, []).append(FieldError(
                "mapping_header_missing", f"O arquivo não tem a coluna '{header}'."))
        else:
            clean[name] = header
    for name in REQUIRED:
        if name not in clean and name not in problems:
            problems.setdefault(name, []).append(FieldError(
                "mapping_required", f"Indique a coluna do arquivo para '{LABELS[name]}'."))
    if problems:
        raise ApplicationError("mapping_invalid", "Mapeamento de colunas incompleto ou inválido.",
                               fields=problems, status_code=422)
    return clean


def column_indexes(mapping: dict[str, str], headers: list[str]) -> dict[str, int]:
    position = {h: i for i, h in reversed(list(enumerate(headers)))}
    return {name: position[header] for name, header in mapping.items()}


def pick(cells: list[str], indexes: dict[str, int]) -> dict[str, str]:
    return {name: (cells[i].strip() if i < len(cells) else "") for name, i in indexes.items()}
