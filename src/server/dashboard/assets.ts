export { DASHBOARD_HTML } from "./html.js";
export { DASHBOARD_JS } from "./script.js";
export { DASHBOARD_CSS } from "./style.js";
