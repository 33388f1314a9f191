from services.desk.app import app, service

service.run(app)
