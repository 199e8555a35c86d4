"""Reference categories shared by several apps: regions, regional prosecutor offices, sex."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Region(models.TextChoices):
    # ISO 3166-2:CL codes, north to south. UNKNOWN is an explicit category for statistics.
    ARICA = "CL-AP", _("Arica y Parinacota")
    TARAPACA = "CL-TA", _("Tarapacá")
    ANTOFAGASTA = "CL-AN", _("Antofagasta")
    ATACAMA = "CL-AT", _("Atacama")
    COQUIMBO = "CL-CO", _("Coquimbo")
    VALPARAISO = "CL-VS", _("Valparaíso")
    METROPOLITANA = "CL-RM", _("Metropolitana de Santiago")
    OHIGGINS = "CL-LI", _("Libertador General Bernardo O'Higgins")
    MAULE = "CL-ML", _("Maule")
    NUBLE = "CL-NB", _("Ñuble")
    BIOBIO = "CL-BI", _("Biobío")
    ARAUCANIA = "CL-AR", _("La Araucanía")
    LOS_RIOS = "CL-LR", _("Los Ríos")
    LOS_LAGOS = "CL-LL", _("Los Lagos")
    AYSEN = "CL-AI", _("Aysén del General Carlos Ibáñez del Campo")
    MAGALLANES = "CL-MA", _("Magallanes y de la Antártica Chilena")
    UNKNOWN = "sin_informacion", _("Sin información")


class FiscaliaRegional(models.TextChoices):
    ARICA = "FR-AP", _("Fiscalía Regional de Arica y Parinacota")
    TARAPACA = "FR-TA", _("Fiscalía Regional de Tarapacá")
    ANTOFAGASTA = "FR-AN", _("Fiscalía Regional de Antofagasta")
    ATACAMA = "FR-AT", _("Fiscalía Regional de Atacama")
    COQUIMBO = "FR-CO", _("Fiscalía Regional de Coquimbo")
    VALPARAISO = "FR-VS", _("Fiscalía Regional de Valparaíso")
    RM_CENTRO_NORTE = "FR-RM-CN", _("Fiscalía Regional Metropolitana Centro Norte")
    RM_ORIENTE = "FR-RM-OR", _("Fiscalía Regional Metropolitana Oriente")
    RM_OCCIDENTE = "FR-RM-OC", _("Fiscalía Regional Metropolitana Occidente")
    RM_SUR = "FR-RM-SU", _("Fiscalía Regional Metropolitana Sur")
    OHIGGINS = "FR-LI", _("Fiscalía Regional de O'Higgins")
    MAULE = "FR-ML", _("Fiscalía Regional del Maule")
    NUBLE = "FR-NB", _("Fiscalía Regional de Ñuble")
    BIOBIO = "FR-BI", _("Fiscalía Regional del Biobío")
    ARAUCANIA = "FR-AR", _("Fiscalía Regional de La Araucanía")
    LOS_RIOS = "FR-LR", _("Fiscalía Regional de Los Ríos")
    LOS_LAGOS = "FR-LL", _("Fiscalía Regional de Los Lagos")
    AYSEN = "FR-AI", _("Fiscalía Regional de Aysén")
    MAGALLANES = "FR-MA", _("Fiscalía Regional de Magallanes")
    UNKNOWN = "sin_informacion", _("Sin información")


# The region each regional office serves (Santiago has four offices).
FISCALIA_REGION = {
    fiscalia: Region.METROPOLITANA if fiscalia.value.startswith("FR-RM") else Region(f"CL-{fiscalia.value[3:]}")
    for fiscalia in FiscaliaRegional
    if fiscalia != FiscaliaRegional.UNKNOWN
}
FISCALIA_REGION[FiscaliaRegional.UNKNOWN] = Region.UNKNOWN


class Sex(models.TextChoices):
    FEMALE = "femenino", _("Femenino")
    MALE = "masculino", _("Masculino")
    UNKNOWN = "sin_informacion", _("Sin información")
