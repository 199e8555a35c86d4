from django.db import models
from django.utils.translation import gettext_lazy as _


class AccessAction(models.TextChoices):
    IDENTITY_READ = "identidad_leida", _("Lectura de identidad")
    EXPORT = "exportacion", _("Exportación")
    SHARE = "compartir", _("Causa compartida")
    UNSHARE = "dejar_de_compartir", _("Causa dejada de compartir")
    CONSENT_RECORDED = "consentimiento_registrado", _("Consentimiento registrado")
    CONSENT_WITHDRAWN = "consentimiento_retirado", _("Consentimiento retirado")
    ACCESS_REQUESTED = "acceso_solicitado", _("Acceso solicitado")
    ACCESS_APPROVED = "acceso_aprobado", _("Solicitud de acceso aprobada")
    ACCESS_DECLINED = "acceso_rechazado", _("Solicitud de acceso rechazada")
    DUPLICATE_FOUND = "duplicado_detectado", _("Persona registrada por otra institución")
    DOCUMENT_SEARCH = "busqueda_documento", _("Búsqueda de causas por documento")
    LOGIN = "ingreso", _("Ingreso")
    LOGOUT = "salida", _("Salida")
    LOGIN_FAILED = "ingreso_fallido", _("Ingreso fallido")
    TWO_FACTOR_ENROLLED = "2fa_activado", _("Segundo factor activado")
    TWO_FACTOR_RESET = "2fa_restablecido", _("Segundo factor restablecido")
    TWO_FACTOR_VERIFIED = "2fa_verificado", _("Segundo factor verificado")
    USER_INVITED = "usuario_invitado", _("Usuario invitado")
    USER_ROLE_CHANGED = "usuario_rol_cambiado", _("Rol de usuario cambiado")
    USER_DEACTIVATED = "usuario_desactivado", _("Usuario desactivado")
    USER_REACTIVATED = "usuario_reactivado", _("Usuario reactivado")
    USER_UNLOCKED = "usuario_desbloqueado", _("Usuario desbloqueado")
    PASSWORD_CHANGED = "clave_cambiada", _("Contraseña cambiada")
