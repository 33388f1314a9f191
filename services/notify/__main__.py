from services.notify.app import bootstrap
from services.notify.settings import NotifySettings

bootstrap(NotifySettings()).run()
