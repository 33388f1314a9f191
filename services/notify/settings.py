from plumbing.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    database: str = "mash_notify"
