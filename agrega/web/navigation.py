"""The menu, at the source manual's paths (Sistema > Cadastros …, Configurações > Integrações …).

Each entry names the capability needed to see it; a page checks the same capability."""

from agrega.core.roles import Capability

MENU = [
    {"label": "Início", "url_name": "web:dashboard", "icon": "speedometer2", "capability": Capability.VIEW},
    {
        "label": "Sistema",
        "icon": "grid",
        "children": [
            {
                "label": "Cadastros",
                "children": [
                    {"label": "Clientes", "url_name": "customers:list", "capability": Capability.VIEW},
                    {"label": "Produtos", "url_name": "catalog:list", "capability": Capability.VIEW},
                    {"label": "Planos de Venda", "url_name": "plans:list", "capability": Capability.VIEW},
                    {"label": "Contrato", "url_name": "contracts:list", "capability": Capability.VIEW},
                ],
            },
            {
                "label": "Operações em massa",
                "children": [
                    {"label": "Importação", "url_name": "imports:list", "capability": Capability.VIEW},
                    {"label": "Campanhas SVA", "url_name": "campaigns:list", "capability": Capability.VIEW},
                ],
            },
        ],
    },
    {
        "label": "Financeiro",
        "icon": "cash-coin",
        "children": [
            {
                "label": "Financeiro",
                "children": [
                    {"label": "Títulos", "url_name": "billing:invoice_list", "capability": Capability.VIEW},
                    {"label": "Importar pagamentos", "url_name": "billing:import", "capability": Capability.VIEW},
                    {"label": "Pagamentos retidos", "url_name": "billing:held_payments", "capability": Capability.VIEW},
                    {"label": "Faturamento", "url_name": "billing:runs", "capability": Capability.VIEW},
                    {"label": "Receita SCM/SVA", "url_name": "taxes:revenue", "capability": Capability.VIEW},
                    {"label": "NFCom", "url_name": "fiscal:list", "capability": Capability.VIEW},
                ],
            }
        ],
    },
    {
        "label": "Relatórios",
        "icon": "clipboard-data",
        "children": [
            {
                "label": "SVA",
                "children": [
                    {"label": "SVA sem consentimento", "url_name": "consent:report", "capability": Capability.VIEW},
                ],
            }
        ],
    },
    {
        "label": "Configurações",
        "icon": "gear",
        "children": [
            {
                "label": "Integrações",
                "children": [
                    {"label": "Integrações SVA", "url_name": "integrations:list",
                     "capability": Capability.VIEW},
                ],
            },
            {
                "label": "Cobrança e tributos",
                "children": [
                    {"label": "Régua de cobrança", "url_name": "dunning:list", "capability": Capability.VIEW},
                    {"label": "Tributos (SCM/SVA)", "url_name": "taxes:rates", "capability": Capability.VIEW},
                    {"label": "Fiscal (NFCom)", "url_name": "fiscal:settings", "capability": Capability.CONFIGURE},
                    {"label": "Contas PIX", "url_name": "pix:list", "capability": Capability.CONFIGURE},
                ],
            },
            {
                "label": "Acesso",
                "children": [
                    {"label": "Usuários", "url_name": "users:list", "capability": Capability.CONFIGURE},
                ],
            },
        ],
    },
]
