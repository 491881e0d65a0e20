export const DASHBOARD_HTML = "<!doctype html><title>oscd</title>";
export const DASHBOARD_JS = "";
export const DASHBOARD_CSS = "";
