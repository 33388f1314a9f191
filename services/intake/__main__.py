from services.intake.app import bootstrap
from services.intake.settings import IntakeSettings

bootstrap(IntakeSettings()).run()
