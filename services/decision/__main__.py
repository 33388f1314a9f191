from services.decision.app import bootstrap
from services.decision.settings import DecisionSettings

bootstrap(DecisionSettings()).run()
