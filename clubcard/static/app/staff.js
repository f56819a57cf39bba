// Progressive enhancement only: every staff page works without this script.
import { initAll } from "/assets/govuk/govuk-frontend.min.js";

initAll();
