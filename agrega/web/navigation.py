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
                    {"label": "Contrato", "url_name": "contracts:list", "capability": Capability.VIEW},
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
            }
        ],
    },
]
