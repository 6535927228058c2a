"use strict";(self.rspackChunkglassjax=self.rspackChunkglassjax||[]).push([[700],{646(e,r,a){var o=a(601),t=a.n(o),n=a(314),s=(a.n(n))()(t());s.push([e.id,`/* Glassjax: sidebar, program panel and stages output. Colours come from the
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
`,""]),a.d(r,{},{A:s})},314(e){e.exports=function(e){var r=[];return r.toString=function(){return this.map(function(r){var a="",o=void 0!==r[5];return r[4]&&(a+="@supports (".concat(r[4],") {")),r[2]&&(a+="@media ".concat(r[2]," {")),o&&(a+="@layer".concat(r[5].length>0?" ".concat(r[5]):""," {")),a+=e(r),o&&(a+="}"),r[2]&&(a+="}"),r[4]&&(a+="}"),a}).join("")},r.i=function(e,a,o,t,n){"string"==typeof e&&(e=[[null,e,void 0]]);var s={};if(o)for(var i=0;i<this.length;i++){var l=this[i][0];null!=l&&(s[l]=!0)}for(var p=0;p<e.length;p++){var c=[].concat(e[p]);o&&s[c[0]]||(void 0!==n&&(void 0===c[5]||(c[1]="@layer".concat(c[5].length>0?" ".concat(c[5]):""," {").concat(c[1],"}")),c[5]=n),a&&(c[2]&&(c[1]="@media ".concat(c[2]," {").concat(c[1],"}")),c[2]=a),t&&(c[4]?(c[1]="@supports (".concat(c[4],") {").concat(c[1],"}"),c[4]=t):c[4]="".concat(t)),r.push(c))}},r}},601(e){e.exports=function(e){return e[1]}},72(e){var r=[];function a(e){for(var a=-1,o=0;o<r.length;o++)if(r[o].identifier===e){a=o;break}return a}function o(e,o){for(var t={},n=[],s=0;s<e.length;s++){var i=e[s],l=o.base?i[0]+o.base:i[0],p=t[l]||0,c="".concat(l," ").concat(p);t[l]=p+1;var u=a(c),d={css:i[1],media:i[2],sourceMap:i[3],supports:i[4],layer:i[5]};if(-1!==u)r[u].references++,r[u].updater(d);else{var f=function(e,r){var a=r.domAPI(r);return a.update(e),function(r){r?(r.css!==e.css||r.media!==e.media||r.sourceMap!==e.sourceMap||r.supports!==e.supports||r.layer!==e.layer)&&a.update(e=r):a.remove()}}(d,o);o.byIndex=s,r.splice(s,0,{identifier:c,updater:f,references:1})}n.push(c)}return n}e.exports=function(e,t){var n=o(e=e||[],t=t||{});return function(e){e=e||[];for(var s=0;s<n.length;s++){var i=a(n[s]);r[i].references--}for(var l=o(e,t),p=0;p<n.length;p++){var c=a(n[p]);0===r[c].references&&(r[c].updater(),r.splice(c,1))}n=l}}},659(e){var r={};e.exports=function(e,a){var o=function(e){if(void 0===r[e]){var a=document.querySelector(e);if(window.HTMLIFrameElement&&a instanceof window.HTMLIFrameElement)try{a=a.contentDocument.head}catch(e){a=null}r[e]=a}return r[e]}(e);if(!o)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");o.appendChild(a)}},540(e){e.exports=function(e){var r=document.createElement("style");return e.setAttributes(r,e.attributes),e.insert(r,e.options),r}},56(e,r,a){e.exports=function(e){var r=a.nc;r&&e.setAttribute("nonce",r)}},825(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var r=e.insertStyleElement(e);return{update:function(a){var o,t,n;o="",a.supports&&(o+="@supports (".concat(a.supports,") {")),a.media&&(o+="@media ".concat(a.media," {")),(t=void 0!==a.layer)&&(o+="@layer".concat(a.layer.length>0?" ".concat(a.layer):""," {")),o+=a.css,t&&(o+="}"),a.media&&(o+="}"),a.supports&&(o+="}"),(n=a.sourceMap)&&"u">typeof btoa&&(o+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(n))))," */")),e.styleTagTransform(o,r,e.options)},remove:function(){var e;null===(e=r).parentNode||e.parentNode.removeChild(e)}}}},113(e){e.exports=function(e,r){if(r.styleSheet)r.styleSheet.cssText=e;else{for(;r.firstChild;)r.removeChild(r.firstChild);r.appendChild(document.createTextNode(e))}}},959(e,r,a){var o=a(72),t=a.n(o),n=a(825),s=a.n(n),i=a(659),l=a.n(i),p=a(56),c=a.n(p),u=a(540),d=a.n(u),f=a(113),g=a.n(f),x=a(646),v={};v.styleTagTransform=g(),v.setAttributes=c(),v.insert=l().bind(null,"head"),v.domAPI=s(),v.insertStyleElement=d(),t()(x.A,v),x.A&&x.A.locals&&x.A.locals}}]);