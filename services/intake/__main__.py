from services.intake.app import service

service.run()
