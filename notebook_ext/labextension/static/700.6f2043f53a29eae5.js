"use strict";(self.rspackChunkglassjax=self.rspackChunkglassjax||[]).push([[700],{646(a,o,r){var e=r(601),t=r.n(e),s=r(314),n=(r.n(s))()(t());n.push([a.id,`/* Glassjax: sidebar, program panel and stages output. Colours come from the
   JupyterLab theme variables so light and dark themes both work. */

.glassjax-Sidebar {
  display: flex;
  flex-direction: column;
  min-width: 200px;
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  font-size: var(--jp-ui-font-size1);
  overflow-y: auto;
}

.glassjax-header {
  display: flex;
  align-items: center;
  justify-content: space-between;
  padding: 6px 8px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  text-transform: uppercase;
  font-weight: 600;
  letter-spacing: 0.5px;
}

.glassjax-refresh {
  border: none;
  background: transparent;
  color: var(--jp-ui-font-color1);
  cursor: pointer;
  font-size: var(--jp-ui-font-size2);
}

.glassjax-refresh:hover {
  background: var(--jp-layout-color2);
}

.glassjax-source {
  padding: 4px 8px 0;
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
}

.glassjax-status {
  padding: 6px 8px;
  color: var(--jp-ui-font-color2);
}

.glassjax-error {
  color: var(--jp-error-color1);
  white-space: pre-wrap;
}

.glassjax-list {
  list-style: none;
  margin: 0;
  padding: 4px 0;
}

.glassjax-fn {
  display: flex;
  flex-direction: column;
  padding: 4px 8px;
  cursor: pointer;
  border-left: 3px solid transparent;
}

.glassjax-fn:hover {
  background: var(--jp-layout-color2);
  border-left-color: var(--jp-brand-color1);
}

.glassjax-fn-name {
  font-family: var(--jp-code-font-family);
  font-weight: 600;
}

.glassjax-fn-counts {
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
}

.glassjax-ProgramPanel {
  padding: 8px 16px;
  overflow: auto;
  background: var(--jp-layout-color0);
  color: var(--jp-ui-font-color1);
}

.glassjax-ProgramPanel:focus {
  outline: none;
}

.glassjax-program-name {
  font-family: var(--jp-code-font-family);
  margin: 4px 0;
}

.glassjax-program-counts,
.glassjax-program-device {
  color: var(--jp-ui-font-color2);
  margin: 2px 0;
}

.glassjax-program-signature {
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-ui-font-size1);
  margin: 12px 0 4px;
}

.glassjax-panes {
  display: flex;
  flex-wrap: wrap;
  gap: 12px;
}

.glassjax-pane {
  flex: 1 1 360px;
  min-width: 0;
}

.glassjax-pane-title {
  margin: 4px 0;
  color: var(--jp-ui-font-color2);
  text-transform: uppercase;
  font-size: var(--jp-ui-font-size0);
}

.glassjax-code {
  margin: 0;
  padding: 6px 8px;
  overflow: auto;
  max-height: 60vh;
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
  line-height: var(--jp-code-line-height);
  background: var(--jp-cell-editor-background);
  border: var(--jp-border-width) solid var(--jp-cell-editor-border-color);
  border-radius: 2px;
}

/* The main-area explorer (src/explorer.ts). */
.glassjax-ExplorerPanel [hidden] {
  display: none !important;
}

.glassjax-explorer-head {
  display: flex;
  flex-wrap: wrap;
  align-items: baseline;
  gap: 4px 16px;
}

.glassjax-explorer-head .glassjax-program-counts {
  color: var(--jp-ui-font-color2);
}

.glassjax-explorer-tools {
  display: flex;
  gap: 6px;
  align-items: center;
  margin-left: auto;
}

.glassjax-explorer-tools select,
.glassjax-passes-controls input,
.glassjax-reload {
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  border: var(--jp-border-width) solid var(--jp-border-color1);
  font-size: var(--jp-ui-font-size1);
}

.glassjax-shown-program {
  font-family: var(--jp-code-font-family);
  color: var(--jp-ui-font-color2);
  margin: 6px 0 4px;
}

.glassjax-popout-root .glassjax-popout-button {
  display: none;
}

/* a popped-out pane leaves a narrow placeholder, whatever the layout */
.glassjax-ExplorerPanel .gjx-explorer .gj-panes > .gj-pane.glassjax-popped {
  flex: 0 0 auto !important;
  min-width: 0 !important;
  opacity: 0.8;
}

.glassjax-PanePanel {
  overflow: auto;
  background: var(--jp-layout-color0);
  color: var(--jp-ui-font-color1);
}

.glassjax-popout-root {
  min-height: 100%;
  box-sizing: border-box;
  padding: 6px;
}

.glassjax-popout-root > .gj-pane {
  display: flex;
  flex-direction: column;
  min-height: calc(100% - 2px);
}

.glassjax-popout-root .gj-code {
  max-height: none;
}

.glassjax-passes {
  margin-top: 12px;
  border-top: var(--jp-border-width) solid var(--jp-border-color2);
}

.glassjax-passes-head,
.glassjax-passes-controls {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 8px;
  margin: 6px 0;
}

.glassjax-passes-title {
  margin: 0;
  font-size: var(--jp-ui-font-size2);
}

/* the pass view has no tabs: in a narrow panel its panes wrap instead of hiding */
.glassjax-pass-view .gj-panes > .gj-pane {
  display: flex !important;
  min-width: 260px !important;
}

.glassjax-pass-slider {
  width: 320px;
}

.glassjax-pass-count {
  min-width: 6em;
  color: var(--jp-ui-font-color2);
}

.glassjax-programs-text > summary {
  cursor: pointer;
  margin: 12px 0 4px;
  color: var(--jp-ui-font-color2);
}

/* The MIME renderer's output (also the node's own class in the output area). */
.glassjax-stages {
  padding: 4px 0;
}

.glassjax-stages .glassjax-linked {
  background: var(--jp-warn-color3);
  outline: 1px solid var(--jp-warn-color1);
}

/* The default stages HTML (notebook_ext.display): styled here too, because the
   sanitizer drops its inline styles when the notebook is not trusted. */
.glassjax-stages .glassjax-stages-title {
  font-weight: 600;
  margin: 2px 0 6px;
}

.glassjax-stages details.glassjax-stage > summary {
  cursor: pointer;
  color: var(--jp-ui-font-color1);
}

.glassjax-stages pre.glassjax-stage-text {
  margin: 0 0 4px;
  padding: 6px 8px;
  overflow: auto;
  max-height: 480px;
  white-space: pre;
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
  background: var(--jp-cell-editor-background);
  border: var(--jp-border-width) solid var(--jp-cell-editor-border-color);
}
`,""]),r.d(o,{},{A:n})},314(a){a.exports=function(a){var o=[];return o.toString=function(){return this.map(function(o){var r="",e=void 0!==o[5];return o[4]&&(r+="@supports (".concat(o[4],") {")),o[2]&&(r+="@media ".concat(o[2]," {")),e&&(r+="@layer".concat(o[5].length>0?" ".concat(o[5]):""," {")),r+=a(o),e&&(r+="}"),o[2]&&(r+="}"),o[4]&&(r+="}"),r}).join("")},o.i=function(a,r,e,t,s){"string"==typeof a&&(a=[[null,a,void 0]]);var n={};if(e)for(var l=0;l<this.length;l++){var i=this[l][0];null!=i&&(n[i]=!0)}for(var p=0;p<a.length;p++){var c=[].concat(a[p]);e&&n[c[0]]||(void 0!==s&&(void 0===c[5]||(c[1]="@layer".concat(c[5].length>0?" ".concat(c[5]):""," {").concat(c[1],"}")),c[5]=s),r&&(c[2]&&(c[1]="@media ".concat(c[2]," {").concat(c[1],"}")),c[2]=r),t&&(c[4]?(c[1]="@supports (".concat(c[4],") {").concat(c[1],"}"),c[4]=t):c[4]="".concat(t)),o.push(c))}},o}},601(a){a.exports=function(a){return a[1]}},72(a){var o=[];function r(a){for(var r=-1,e=0;e<o.length;e++)if(o[e].identifier===a){r=e;break}return r}function e(a,e){for(var t={},s=[],n=0;n<a.length;n++){var l=a[n],i=e.base?l[0]+e.base:l[0],p=t[i]||0,c="".concat(i," ").concat(p);t[i]=p+1;var d=r(c),u={css:l[1],media:l[2],sourceMap:l[3],supports:l[4],layer:l[5]};if(-1!==d)o[d].references++,o[d].updater(u);else{var g=function(a,o){var r=o.domAPI(o);return r.update(a),function(o){o?(o.css!==a.css||o.media!==a.media||o.sourceMap!==a.sourceMap||o.supports!==a.supports||o.layer!==a.layer)&&r.update(a=o):r.remove()}}(u,e);e.byIndex=n,o.splice(n,0,{identifier:c,updater:g,references:1})}s.push(c)}return s}a.exports=function(a,t){var s=e(a=a||[],t=t||{});return function(a){a=a||[];for(var n=0;n<s.length;n++){var l=r(s[n]);o[l].references--}for(var i=e(a,t),p=0;p<s.length;p++){var c=r(s[p]);0===o[c].references&&(o[c].updater(),o.splice(c,1))}s=i}}},659(a){var o={};a.exports=function(a,r){var e=function(a){if(void 0===o[a]){var r=document.querySelector(a);if(window.HTMLIFrameElement&&r instanceof window.HTMLIFrameElement)try{r=r.contentDocument.head}catch(a){r=null}o[a]=r}return o[a]}(a);if(!e)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");e.appendChild(r)}},540(a){a.exports=function(a){var o=document.createElement("style");return a.setAttributes(o,a.attributes),a.insert(o,a.options),o}},56(a,o,r){a.exports=function(a){var o=r.nc;o&&a.setAttribute("nonce",o)}},825(a){a.exports=function(a){if("u"<typeof document)return{update:function(){},remove:function(){}};var o=a.insertStyleElement(a);return{update:function(r){var e,t,s;e="",r.supports&&(e+="@supports (".concat(r.supports,") {")),r.media&&(e+="@media ".concat(r.media," {")),(t=void 0!==r.layer)&&(e+="@layer".concat(r.layer.length>0?" ".concat(r.layer):""," {")),e+=r.css,t&&(e+="}"),r.media&&(e+="}"),r.supports&&(e+="}"),(s=r.sourceMap)&&"u">typeof btoa&&(e+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(s))))," */")),a.styleTagTransform(e,o,a.options)},remove:function(){var a;null===(a=o).parentNode||a.parentNode.removeChild(a)}}}},113(a){a.exports=function(a,o){if(o.styleSheet)o.styleSheet.cssText=a;else{for(;o.firstChild;)o.removeChild(o.firstChild);o.appendChild(document.createTextNode(a))}}},959(a,o,r){var e=r(72),t=r.n(e),s=r(825),n=r.n(s),l=r(659),i=r.n(l),p=r(56),c=r.n(p),d=r(540),u=r.n(d),g=r(113),f=r.n(g),x=r(646),j={};j.styleTagTransform=f(),j.setAttributes=c(),j.insert=i().bind(null,"head"),j.domAPI=n(),j.insertStyleElement=u(),t()(x.A,j),x.A&&x.A.locals&&x.A.locals}}]);