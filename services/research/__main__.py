from services.research.app import bootstrap
from services.research.settings import ResearchSettings

bootstrap(ResearchSettings()).run()
