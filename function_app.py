"""deskmail's Azure Functions app (Python v2 programming model): the web app (every HTTP path
not taken by a function below, through AsgiFunctionApp) and the blueprints of the timer, queue
and HTTP functions. Anonymous at the Functions level: App Service Authentication signs people
in and the web app checks roles (docs/web.md). The web app is built on its first request."""
import azure.functions as func

from functions.fetch import blueprint as fetch_blueprint
from functions.monitor import blueprint as monitor_blueprint
from functions.outbound import blueprint as outbound_blueprint
from functions.tickets import blueprint as tickets_blueprint
from shared_code.web.lazy import LazyWebApp

app = func.AsgiFunctionApp(app=LazyWebApp(), http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(fetch_blueprint)
app.register_functions(outbound_blueprint)
app.register_functions(tickets_blueprint)
app.register_functions(monitor_blueprint)
